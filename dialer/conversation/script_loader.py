"""Reading a script.yml: every key checked, references and reachability verified, errors
naming the file, the node and (where it can) the line. The format is described in
dialer/conversation/script.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from dialer.conversation import confirm
from dialer.conversation.outcomes import Outcome
from dialer.conversation.script import AnsweringMachine, Node, Script, ScriptError, ScriptSettings

_NODE_KEYS = {"say", "expect", "end", "handoff", "reason", "no_match", "dtmf", "confirm",
              "confirm_prompt"}
_DTMF_KEYS = set("0123456789*#")
_DISPOSITIONS = {d.value for d in Outcome}


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
                               opt_out=end == Outcome.OPT_OUT)
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
