"""Dialogue scripts: a campaign's conversation as YAML nodes, validated when loaded.

Scripts live in `dialer/` (not `nlu/`): they decide what the robot says and does, the NLU
only says what the customer meant.

    start: greeting
    settings: {max_fallbacks_in_row: 2, max_no_input: 2, no_input_timeout_s: 6}
    global_intents:            # understood at every node
      request_human: handoff
    nodes:
      greeting:
        say: "안녕하세요 {name} 고객님 ..."
        expect: {affirm: offer, deny: objection}
      handoff:
        say: "상담원에게 연결해 드리겠습니다."
        end: handoff           # a disposition; ends the call
        handoff: true
      cancel:                  # irreversible: a weakly heard reply is confirmed first
        say: "해지해 드렸습니다."  # (nodes that end as opt_out are, by default;
        end: not_interested    # dialer.confirm)
        confirm: true
        confirm_prompt: "정말 해지해 드릴까요?"
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from campaigns.models import Disposition
from dialer import confirm


class ScriptError(ValueError):
    """One line naming the file, the node and what to fix."""


@dataclass(frozen=True)
class Node:
    name: str
    say: str
    expect: dict[str, str] = field(default_factory=dict)  # intent -> next node
    end: str | None = None  # disposition when the call ends here
    handoff: bool = False
    reason: str | None = None  # stored with the outcome, e.g. why the customer declined
    no_match: str | None = None  # node to go to when the reply is understood but unexpected
    dtmf: dict[str, str] = field(default_factory=dict)  # key pressed -> intent, at this node
    # Entering this node is irreversible: on a weakly heard reply the robot asks
    # `confirm_prompt` first (dialer.confirm). None: only nodes that end as opt_out.
    confirm: bool | None = None
    confirm_prompt: str | None = None


@dataclass(frozen=True)
class ScriptSettings:
    max_fallbacks_in_row: int = 2  # then hand off: the robot is unsure
    max_no_input: int = 2  # then end the call as no_input
    no_input_timeout_s: float = 6.0
    fallback_prompt: str = "죄송합니다. 다시 한 번 말씀해 주시겠어요?"
    no_input_prompt: str = "여보세요? 제 말씀 들리세요?"
    fallback_node: str = "handoff"  # where repeated fallbacks go
    no_input_disposition: str = Disposition.NO_INPUT
    # Escalation to a person (issue: human handoff). A reply heard and understood with
    # ASR x NLU confidence below this counts as not understood (0: off).
    min_confidence: float = 0.0
    # Words that hand the call to a person at once (anger, a complaint); None: the
    # script language's defaults (NEGATIVE_WORDS), []: never.
    negative_words: tuple[str, ...] | None = None
    negative_node: str | None = None  # where they go; None: fallback_node
    # Waiting for a person (dialer.handoff). No agent on the line within handoff_wait_s
    # of the decision: the robot apologises, promises a callback callback_delay_s later
    # (moved into the call window), and the call counts as abandoned.
    handoff_wait_s: float = 30.0
    handoff_skills: tuple[str, ...] = ()  # an agent needs all of them to be offered it
    hold_prompt: str = "상담원 연결을 기다리고 있습니다. 잠시만 기다려 주세요."
    hold_prompt_every_s: float = 15.0  # between stretches of hold music
    no_agent_prompt: str = ("죄송합니다. 지금은 모든 상담원이 통화 중입니다. {callback} "
                            "상담원이 다시 전화드리겠습니다. 감사합니다.")
    callback_delay_s: float = 3600.0
    # bridge: the worker calls the agent and joins the legs (recording and transcript go
    # on); refer: a blind transfer, the trunk connects the customer to the agent itself
    # (for trunks that want it; the worker's part ends there).
    handoff_transfer: str = "bridge"
    # Confirming irreversible actions (dialer.confirm): a reply leading to an opt-out
    # node (or a `confirm: true` one) is asked about first when its NLU confidence is
    # below the intent's bar here (an intent not listed, opt_out included: 0.9), its ASR
    # confidence below confirm_asr_below, or the grammar forced or re-read it. Prompts:
    # None is the script language's default ("수신 거부로 처리해 드릴까요?"; "알겠습니다."
    # before the node's question again when the answer is no).
    confirm_below: dict[str, float] = field(default_factory=dict)
    confirm_asr_below: float = confirm.DEFAULT_CONFIRM_ASR_BELOW
    confirm_prompt: str | None = None
    confirm_no_prompt: str | None = None

    def negative(self, language: str) -> tuple[str, ...]:
        if self.negative_words is not None:
            return self.negative_words
        return NEGATIVE_WORDS.get(language.split("-")[0], ())


# Said in anger or to complain; a customer saying them wants a person, not a reprompt.
NEGATIVE_WORDS: dict[str, tuple[str, ...]] = {
    # Whole enough not to hide in other words ("전화나" holds "화나").
    "ko": ("짜증", "화가 나", "화났", "열받", "장난해", "장난하냐", "미치겠", "고소할", "신고할"),
    "en": ("ridiculous", "angry", "furious", "complaint", "complain", "sue you", "scam",
           "useless"),
    "zh": ("生气", "烦死", "投诉", "骗子", "气死"),
}


@dataclass(frozen=True)
class AnsweringMachine:
    """`answering_machine:` in script.yml: detect machines in the first seconds and
    either hang up or leave `voicemail` once the machine records (after its beep)."""

    on_machine: str = "hangup"  # hangup | voicemail
    voicemail: str = ""
    max_human_speech_s: float = 2.0  # longer opening speech is a machine's greeting
    initial_silence_s: float = 2.5  # nobody speaks: treat as a person and start
    # Words only a machine says in its greeting; empty: the script language's defaults.
    keywords: tuple[str, ...] = ()

    def machine_words(self, language: str) -> tuple[str, ...]:
        return tuple(self.keywords) or MACHINE_KEYWORDS.get(language.split("-")[0], ())


# What answering machines say and people answering a call do not.
MACHINE_KEYWORDS: dict[str, tuple[str, ...]] = {
    "ko": ("메시지를 남겨", "삐 소리", "음성 사서함", "전화를 받을 수 없습니다", "부재중"),
    "en": ("leave a message", "after the tone", "after the beep", "voicemail",
           "not available"),
    "zh": ("留言", "语音信箱", "无法接听"),
}
# What a person says on answering: in the recogniser's grammar beside the machine words
# while the verdict is pending, so that a "여보세요" is not forced into a machine phrase.
ANSWER_PHRASES: dict[str, tuple[str, ...]] = {
    "ko": ("여보세요", "네 여보세요", "네", "누구세요", "네 말씀하세요"),
    "en": ("hello", "yes hello", "who is this", "speaking"),
    "zh": ("喂", "你好", "哪位"),
}


@dataclass(frozen=True)
class Script:
    path: Path
    start: str
    nodes: dict[str, Node]
    global_intents: dict[str, str]
    settings: ScriptSettings
    language: str = "ko"
    rasa_url: str | None = None  # an external Rasa server understands the replies
    rasa_timeout_s: float = 2.0
    dtmf: dict[str, str] = field(default_factory=dict)  # key -> intent, at every node
    answering_machine: AnsweringMachine | None = None  # None: no detection
    # Entities kept from the customer's replies (latest value wins), usable in prompts
    # like contact fields and stored with the outcome (e.g. when to call back).
    slots: tuple[str, ...] = ()
    nlu_config: dict[str, Any] = field(default_factory=dict)  # pipeline overrides
    nlu_model: Path | None = None  # a model saved by `python -m nlu train`

    def expected_intents(self, node: str) -> list[str]:
        return list(self.nodes[node].expect) + [
            i for i in self.global_intents if i not in self.nodes[node].expect
        ]

    def intents_used(self) -> set[str]:
        used = set(self.global_intents)
        for n in self.nodes.values():
            used.update(n.expect)
        return used

    def dtmf_intent(self, node: str, digit: str) -> str | None:
        """The intent a key press means at this node (the node's own keys first)."""
        return self.nodes[node].dtmf.get(digit) or self.dtmf.get(digit)

    # -- irreversible nodes (dialer.confirm) --------------------------------------------
    def commits(self, node: str) -> str | None:
        """The irreversible action entering this node takes: "opt_out" for a node that
        ends the call as an opt-out (the number goes on the DNC list), the node's name
        for one marked `confirm: true`; None for an ordinary node."""
        n = self.nodes[node]
        if n.end == Disposition.OPT_OUT:
            return str(Disposition.OPT_OUT)
        return n.name[:32] if n.confirm else None

    def confirms(self, node: str) -> bool:
        """A weakly heard reply is confirmed before entering this node."""
        n = self.nodes[node]
        return n.confirm if n.confirm is not None else n.end == Disposition.OPT_OUT

    def confirm_prompt(self, node: str) -> str:
        lang = self.language.split("-")[0]
        return (self.nodes[node].confirm_prompt or self.settings.confirm_prompt
                or confirm.CONFIRM_PROMPTS.get(lang, confirm.CONFIRM_PROMPTS["en"]))

    def confirm_no_prompt(self) -> str:
        lang = self.language.split("-")[0]
        return self.settings.confirm_no_prompt or confirm.DECLINED_PROMPTS.get(
            lang, confirm.DECLINED_PROMPTS["en"])

    def confirm_bar(self, intent: str) -> float:
        return self.settings.confirm_below.get(intent, confirm.DEFAULT_CONFIRM_BELOW)

    def confirm_texts(self) -> list[tuple[str, str]]:
        """(where, text) of every confirmation prompt the script can say."""
        out = [(f"node {n.name!r} confirm_prompt", self.confirm_prompt(n.name))
               for n in self.nodes.values() if self.confirms(n.name)]
        if out:
            out.append(("settings.confirm_no_prompt", self.confirm_no_prompt()))
        return out

    def fields_used(self) -> dict[str, list[str]]:
        """Contact fields the prompts use ({name}) -> where (node names or settings)."""
        texts = [(f"node {n.name!r}", n.say) for n in self.nodes.values()]
        texts += [(f"settings.{k}", getattr(self.settings, k)) for k in
                  ("fallback_prompt", "no_input_prompt")]
        texts += self.confirm_texts()
        if self.answering_machine is not None:
            texts.append(("answering_machine.voicemail", self.answering_machine.voicemail))
        out: dict[str, list[str]] = {}
        for where, text in texts:
            for _, name, _, _ in string.Formatter().parse(text):
                if name:
                    out.setdefault(name, []).append(where)
        return out

    def check_fields(self, columns: list[str] | set[str], source: str) -> None:
        """Refuse a call list that lacks a field the prompts use: every callee would
        hear a blank where their name should be."""
        missing = {f: w for f, w in self.fields_used().items()
                   if f not in set(columns) and f not in self.slots}
        if missing:
            name, where = next(iter(sorted(missing.items())))
            raise ScriptError(
                f"{self.path}: {where[0]} says {{{name}}}, but {source} has no column "
                f"{name!r} (columns: {', '.join(sorted(columns)) or 'none'}); add the column "
                "or take the field out of the prompt")

    def render(self, node: str, fields: dict[str, Any]) -> str:
        return _render(self.nodes[node].say, fields)

    def render_text(self, text: str, fields: dict[str, Any]) -> str:
        return _render(text, fields)


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def _render(text: str, fields: dict[str, Any]) -> str:
    # A contact without the field gets a blank rather than a crashed call.
    return " ".join(string.Formatter().vformat(text, (), _Blank(fields)).split())


_NODE_KEYS = {"say", "expect", "end", "handoff", "reason", "no_match", "dtmf", "confirm",
              "confirm_prompt"}
_DTMF_KEYS = set("0123456789*#")
_DISPOSITIONS = {d.value for d in Disposition}


def load_script(directory: Path | str, known_intents: set[str] | None = None) -> Script:
    """Load `script.yml` from a campaign directory; `known_intents` (from nlu.yml) lets
    the loader reject a script that waits for an intent the NLU can never produce."""
    directory = Path(directory)
    path = directory / "script.yml"
    if not path.exists():
        raise ScriptError(f"{path}: no script.yml in {directory}; a campaign directory needs "
                          "script.yml and nlu.yml")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ScriptError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    except UnicodeDecodeError as exc:
        raise ScriptError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save "
                          "the file as UTF-8") from None
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), dict) or not data["nodes"]:
        raise ScriptError(f"{path}: expected a mapping with a non-empty 'nodes:' section")

    settings = ScriptSettings(**_settings(path, data.get("settings") or {}))
    nodes: dict[str, Node] = {}
    for name, raw in data["nodes"].items():
        where = f"{path}: node {name!r}"
        if not isinstance(raw, dict):
            raise ScriptError(f"{where}: expected a mapping with 'say:'")
        unknown = set(raw) - _NODE_KEYS
        if unknown:  # YAML keys may be numbers or booleans too: sorted as text
            raise ScriptError(f"{where}: unknown key(s) {sorted(unknown, key=str)}; allowed: "
                              f"{sorted(_NODE_KEYS)}")
        if not isinstance(raw.get("say"), str) or not raw["say"].strip():
            raise ScriptError(f"{where}: 'say:' must be the text the robot speaks")
        expect = raw.get("expect") or {}
        if not isinstance(expect, dict):
            raise ScriptError(f"{where}: 'expect:' must map intents to node names")
        end = raw.get("end")
        if end is not None and (not isinstance(end, str) or end not in _DISPOSITIONS):
            raise ScriptError(f"{where}: end disposition {end!r} is not one of "
                              f"{sorted(_DISPOSITIONS)}")
        if end is None and not expect:
            raise ScriptError(f"{where}: a node must either 'expect:' replies or 'end:' the call")
        nodes[str(name)] = Node(name=str(name), say=raw["say"], expect={
            str(k): str(v) for k, v in expect.items()}, end=end,
            dtmf=_dtmf(where, raw.get("dtmf")),
            handoff=bool(raw.get("handoff", False)), reason=raw.get("reason"),
            no_match=raw.get("no_match"), **_confirm(where, raw, end))

    if not isinstance(data.get("global_intents") or {}, dict):
        raise ScriptError(f"{path}: 'global_intents:' must map intents to node names")
    global_intents = {str(k): str(v) for k, v in (data.get("global_intents") or {}).items()}
    start = str(data.get("start", next(iter(nodes))))
    nlu = _nlu_section(path, data.get("nlu"))
    script = Script(path=path, start=start, nodes=nodes, global_intents=global_intents,
                    settings=settings, language=str(data.get("language", "ko")),
                    dtmf=_dtmf(str(path), data.get("dtmf")),
                    answering_machine=_answering_machine(path, data.get("answering_machine")),
                    slots=_slots(path, data.get("slots")),
                    **nlu)
    _check_references(script, known_intents)
    return script


def _confirm(where: str, raw: dict[str, Any], end: str | None) -> dict[str, Any]:
    """A node's `confirm:` (its action is irreversible) and its own `confirm_prompt:`."""
    error = confirm.node_error(where, raw.get("confirm"), raw.get("confirm_prompt"),
                               opt_out=end == Disposition.OPT_OUT)
    if error:
        raise ScriptError(error)
    return {"confirm": raw.get("confirm"), "confirm_prompt": raw.get("confirm_prompt")}


def _slots(path: Path, raw: object) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(x, str) and x for x in raw):
        raise ScriptError(f"{path}: 'slots:' must list entity names, e.g. slots: [day, time]")
    return tuple(raw)


def _answering_machine(path: Path, raw: object) -> AnsweringMachine | None:
    if raw is None:
        return None
    allowed = set(AnsweringMachine.__dataclass_fields__)
    if not isinstance(raw, dict) or set(raw) - allowed:
        raise ScriptError(f"{path}: 'answering_machine:' must be a mapping with keys "
                          f"{sorted(allowed)}, e.g. {{on_machine: voicemail, voicemail: '...'}}")
    keywords = raw.get("keywords", ())
    if isinstance(keywords, str) or not isinstance(keywords, list | tuple) \
            or not all(isinstance(k, str) and k.strip() for k in keywords):
        raise ScriptError(f"{path}: answering_machine.keywords must be a list of phrases "
                          "a machine says, e.g. keywords: [메시지를 남겨, 삐 소리]")
    am = AnsweringMachine(**{**raw, "keywords": tuple(k.strip() for k in keywords)})
    if am.on_machine not in ("hangup", "voicemail"):
        raise ScriptError(f"{path}: answering_machine.on_machine {am.on_machine!r} must be "
                          "hangup or voicemail")
    if am.on_machine == "voicemail" and not str(am.voicemail).strip():
        raise ScriptError(f"{path}: answering_machine.voicemail is empty; write the message "
                          "to leave, or set on_machine: hangup")
    return am


def _dtmf(where: str, raw: object) -> dict[str, str]:
    """`dtmf: {"1": request_human, "9": opt_out}`: keys the callee may press, each read
    as the intent it names (RFC 4733 telephone events)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ScriptError(f"{where}: 'dtmf:' must map keys to intents, e.g. "
                          "dtmf: {'1': request_human, '9': opt_out}")
    out = {}
    for key, intent in raw.items():
        key = str(key)
        if key not in _DTMF_KEYS:
            raise ScriptError(f"{where}: dtmf key {key!r} is not a phone key (0-9, *, #); "
                              "quote it in YAML, e.g. '1':")
        out[key] = str(intent)
    return out


def _settings(path: Path, raw: dict[str, Any]) -> dict[str, Any]:
    allowed = set(ScriptSettings.__dataclass_fields__)
    if not isinstance(raw, dict):
        raise ScriptError(f"{path}: 'settings:' must be a mapping, e.g. settings: "
                          "{max_no_input: 2}")
    unknown = set(raw) - allowed
    if unknown:
        raise ScriptError(f"{path}: unknown setting(s) {sorted(unknown, key=str)}; allowed: "
                          f"{sorted(allowed)}")
    out = dict(raw)
    if "min_confidence" in out:
        value = out["min_confidence"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
            raise ScriptError(f"{path}: settings.min_confidence {value!r} must be a number "
                              "from 0 (off) to below 1, e.g. 0.3")
    if "negative_words" in out:
        words = out["negative_words"]
        if words is not None and (not isinstance(words, list)
                                  or not all(isinstance(w, str) and w.strip() for w in words)):
            raise ScriptError(f"{path}: settings.negative_words must be a list of words or "
                              "phrases ([] never hands off for wording)")
        out["negative_words"] = None if words is None else tuple(w.strip() for w in words)
    for key in ("handoff_wait_s", "hold_prompt_every_s", "callback_delay_s"):
        value = out.get(key, 1)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ScriptError(f"{path}: settings.{key} {value!r} must be seconds above 0")
    if "handoff_skills" in out:
        skills = out["handoff_skills"]
        if not isinstance(skills, list) or not all(isinstance(x, str) and x.strip()
                                                   for x in skills):
            raise ScriptError(f"{path}: settings.handoff_skills must be a list of skill "
                              "names, e.g. [billing, korean]")
        out["handoff_skills"] = tuple(x.strip() for x in skills)
    if out.get("handoff_transfer", "bridge") not in ("bridge", "refer"):
        raise ScriptError(f"{path}: settings.handoff_transfer {out['handoff_transfer']!r} "
                          "must be bridge (the worker joins the legs) or refer (a blind "
                          "transfer by SIP REFER)")
    error = confirm.settings_error(path, out)
    if error:
        raise ScriptError(error)
    if "{callback}" not in str(out.get("no_agent_prompt", "{callback}")):
        raise ScriptError(f"{path}: settings.no_agent_prompt must say when we call back: "
                          "put {callback} where the time goes")
    return out


def _nlu_section(path: Path, raw: object) -> dict[str, Any]:
    """Which NLU understands the replies. Without an `nlu:` section, a model trained from
    nlu.yml with the default pipeline. Otherwise one of:
      nlu: {rasa_url: http://rasa:5005, timeout_s: 2}   # an external Rasa server
      nlu: {model: nlu-model}      # a model saved by `python -m nlu train` (relative paths
                                   # start at the campaign directory)
      nlu: {config: {embedding_model: minilm, fallback_threshold: 0.6}}  # trained here,
                                   # with pipeline overrides (keys: `python -m nlu train -h`)
    nlu.yml feeds the ASR grammar whichever is used."""
    if raw is None:
        return {}
    modes = {"rasa_url", "model", "config"}
    if not isinstance(raw, dict) or set(raw) - modes - {"timeout_s"} or len(set(raw) & modes) != 1:
        raise ScriptError(f"{path}: 'nlu:' must be a mapping with one of the keys "
                          f"{sorted(modes)} (and timeout_s with rasa_url), e.g. "
                          "nlu: {rasa_url: 'http://127.0.0.1:5005'}")
    if "model" in raw:
        try:
            model = Path(str(raw["model"])).expanduser()
        except RuntimeError:  # ~someone who has no home directory here
            raise ScriptError(f"{path}: nlu.model {raw['model']!r}: no such user's home "
                              "directory; give the model's path without ~") from None
        model = model if model.is_absolute() else path.parent / model
        return {"nlu_model": model}
    if "config" in raw:
        if not isinstance(raw["config"], dict):
            raise ScriptError(f"{path}: nlu.config must be a mapping of pipeline settings, "
                              "e.g. {embedding_model: minilm}")
        return {"nlu_config": {str(k): v for k, v in raw["config"].items()}}
    url = raw.get("rasa_url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ScriptError(f"{path}: nlu.rasa_url {url!r} must be an http(s) URL of a Rasa "
                          "server, e.g. http://127.0.0.1:5005")
    try:
        timeout = float(raw.get("timeout_s", 2.0))
    except (TypeError, ValueError):
        timeout = -1.0
    if not 0 < timeout <= 30:
        raise ScriptError(f"{path}: nlu.timeout_s must be seconds between 0 and 30")
    return {"rasa_url": url, "rasa_timeout_s": timeout}


def _check_references(script: Script, known_intents: set[str] | None) -> None:
    path = script.path
    if script.start not in script.nodes:
        raise ScriptError(f"{path}: start node {script.start!r} is not defined under nodes:")
    targets = [("global_intents", i, t) for i, t in script.global_intents.items()]
    for n in script.nodes.values():
        targets += [(f"node {n.name!r}", i, t) for i, t in n.expect.items()]
        if n.no_match:
            targets.append((f"node {n.name!r}", "no_match", n.no_match))
    targets.append(("settings", "fallback_node", script.settings.fallback_node))
    if script.settings.negative_node is not None:
        targets.append(("settings", "negative_node", script.settings.negative_node))
    for where, intent, target in targets:
        if not isinstance(target, str) or target not in script.nodes:
            raise ScriptError(f"{path}: {where}: {intent} goes to unknown node {target!r}; "
                              f"define it under nodes: or fix the name")
    _check_reachable(script, targets)
    for key in ("fallback_node", "negative_node"):
        target = getattr(script.settings, key)
        if target is not None and script.commits(target):
            raise ScriptError(f"{path}: settings.{key} {target!r} takes an irreversible action "
                              f"({script.commits(target)}), but the robot goes there on a "
                              "reply it did not understand or an angry one; point it at a "
                              "handoff or a closing node")
    used = script.intents_used()
    for intent in script.settings.confirm_below:
        if intent not in used:
            raise ScriptError(f"{path}: settings.confirm_below names intent {intent!r}, which "
                              f"the script never waits for (used: {', '.join(sorted(used))}); "
                              "fix the name or remove it")
    for n in script.nodes.values():
        for key, intent in {**script.dtmf, **n.dtmf}.items():
            if intent not in n.expect and intent not in script.global_intents:
                raise ScriptError(f"{path}: node {n.name!r}: dtmf key {key!r} means intent "
                                  f"{intent!r}, which leads nowhere there; add it to the "
                                  "node's expect: or to global_intents:")
    if known_intents is not None:
        for where, intent, _ in targets:
            if intent in ("no_match", "fallback_node", "negative_node"):
                continue
            if intent not in known_intents:
                raise ScriptError(
                    f"{path}: {where}: intent {intent!r} is not in the NLU training data "
                    f"(known: {', '.join(sorted(known_intents))}); add examples for it to "
                    "nlu.yml or fix the name")


def _check_reachable(script: Script, targets: list[tuple[str, str, str]]) -> None:
    """Every node must be reachable from the start: an unreachable one is a typo in a
    name or a forgotten link, and its prompt would never be heard."""
    edges: dict[str, set[str]] = {}
    for where, _, target in targets:
        source = where.split("'")[1] if where.startswith("node ") else None
        edges.setdefault(str(source), set()).add(target)
    # Global intents, the fallback node and no-input endings can fire at any node.
    anywhere = edges.get("None", set())
    seen, todo = {script.start}, [script.start]
    while todo:
        for nxt in edges.get(todo.pop(), set()) | anywhere:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    lost = [n for n in script.nodes if n not in seen]
    if lost:
        line = _line_of(script.path, lost[0])
        raise ScriptError(f"{script.path}{f':{line}' if line else ''}: node {lost[0]!r} "
                          f"cannot be reached from the start node {script.start!r}; link it "
                          "from another node's expect:, no_match: or global_intents:, or "
                          "delete it")


def _line_of(path: Path, node: str) -> int | None:
    """The line where a node is defined, for error messages (YAML keeps no positions)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for i, line in enumerate(lines, 1):
        if line.strip().startswith((f"{node}:", f"'{node}':", f'"{node}":')) \
                and line.startswith(" "):
            return i
    return None
