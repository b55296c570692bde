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
        end: not_interested    # dialer.conversation.confirm)
        confirm: true
        confirm_prompt: "정말 해지해 드릴까요?"
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dialer.conversation import confirm
from dialer.conversation.outcomes import Outcome


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
    # `confirm_prompt` first (dialer.conversation.confirm). None: only nodes that end as opt_out.
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
    no_input_disposition: str = Outcome.NO_INPUT
    # Escalation to a person (issue: human handoff). A reply heard and understood with
    # ASR x NLU confidence below this counts as not understood (0: off).
    min_confidence: float = 0.0
    # Words that hand the call to a person at once (anger, a complaint); None: the
    # script language's defaults (NEGATIVE_WORDS), []: never.
    negative_words: tuple[str, ...] | None = None
    negative_node: str | None = None  # where they go; None: fallback_node
    # Waiting for a person (dialer.handoff.desk). No agent on the line within handoff_wait_s
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
    # Confirming irreversible actions (dialer.conversation.confirm): a reply leading to an opt-out
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
    either hang up or leave `voicemail` once the machine records (after its beep). A call
    screener (an assistant asking who calls and why) is greeted, as a person is."""

    on_machine: str = "hangup"  # hangup | voicemail
    voicemail: str = ""
    # More opening speech than this, without the pause of someone waiting for an answer,
    # is a recorded greeting. People who say more than hello ("네 여보세요, 김민수입니다,
    # 누구세요?") take 2.5-3.5 s; a recorded greeting goes on.
    max_human_speech_s: float = 4.0
    initial_silence_s: float = 2.5  # nobody speaks: treat as a person and start
    # Words only a machine says in its greeting; empty: the script language's defaults.
    keywords: tuple[str, ...] = ()

    def machine_words(self, language: str) -> tuple[str, ...]:
        """What only a machine says: an answering machine's words (`keywords`, else the
        language's) and a call screener's (SCREENER_WORDS, SPEAK_REQUESTS). All go into
        the recogniser's grammar while the verdict is pending; AmdKeywords tells the
        machine's from the screener's."""
        lang = language.split("-")[0]
        return (*(tuple(self.keywords) or MACHINE_KEYWORDS.get(lang, ())),
                *SCREENER_WORDS.get(lang, ()), *SPEAK_REQUESTS.get(lang, ()))


# The lists below are the recogniser's grammar while the verdict is pending: machine,
# screener and person phrases side by side, so that what is said is drawn to its own
# kind rather than forced into another's. Korean is written in the vosk model's own
# words ("누구 세요", "말씀 하세요"): a phrase with a word the model lacks is left out
# of the grammar. Matching ignores spacing.
#
# What answering machines say and people answering a call do not: the stock phrases of
# voicemail systems and carriers.
MACHINE_KEYWORDS: dict[str, tuple[str, ...]] = {
    "ko": ("메시지를 남겨", "삐 소리가", "삐 소리 후", "음성 사서함", "소리샘",
           "전화를 받을 수 없습니다", "전화를 받을 수 없으니", "전화를 받을 수 없어", "부재중", "외출 중",
           "다시 걸어 주십시오", "다시 걸어 주세요", "업무 시간이 아닙니다", "상담 시간이 아닙니다",
           "연결 되지", "전화를 받지 않아", "우물 정자"),
    "en": ("leave a message", "leave your message", "after the tone", "after the beep",
           "voicemail", "not available", "can't take your call", "cannot take your call",
           "record your message", "mailbox"),
    "zh": ("留言", "语音信箱", "无法接听", "提示音后", "嘀声后"),
}
# What a call-screening assistant says (it answers for the callee and asks who is
# calling and why) and neither a person nor a voicemail greeting does.
SCREENER_WORDS: dict[str, tuple[str, ...]] = {
    "ko": ("통화 비서", "인공지능 비서", "통화 선별", "선별 서비스", "용건 을 말씀", "용건 으로",
           "성함 과 용건", "이름과 용건", "성함 을 말씀", "발신자", "누구 신지", "전달해 드리겠습니다",
           "연결 하기 전 에", "스팸 차단"),
    "en": ("screening service", "call screening", "say your name", "state your name",
           "your name and reason", "reason for calling", "why you're calling",
           "see if this person is available", "get a copy of this conversation"),
    "zh": ("智能助理", "通话助理", "机主", "来电筛选", "您的姓名", "来电事由", "转告"),
}
# A screener asks the caller to speak; so do some voicemail greetings ("삐 소리 후에
# 말씀해 주세요"), never with a screener's own words: these are a screener's only
# without a machine's words beside them.
SPEAK_REQUESTS: dict[str, tuple[str, ...]] = {
    "ko": ("말씀 해 주세요", "말씀 해 주시면", "말씀 하시면"),
    "en": ("please say", "go ahead and say", "please state"),
    "zh": ("请说", "请告诉"),
}
# What a person says on answering: in the recogniser's grammar beside the machine words
# while the verdict is pending, so that a "여보세요" is not forced into a machine phrase.
ANSWER_PHRASES: dict[str, tuple[str, ...]] = {
    "ko": ("여보세요", "네 여보세요", "네", "예", "예 여보세요", "누구 세요", "누구 시죠",
           "말씀 하세요", "네 말씀 하세요", "전 데요", "안녕하세요", "네 안녕하세요", "전화 받았습니다",
           "어디 세요", "무슨 일 이시죠", "잘 안 들려 요", "다시 말씀 해 주세요", "입니다"),
    "en": ("hello", "yes hello", "yes", "yeah", "hi", "who is this", "speaking", "this is",
           "can you hear me", "sorry who"),
    "zh": ("喂", "你好", "哪位", "喂 你好", "您好", "你是谁", "听不清", "请讲"),
}
# Of those, what a person says and a recorded greeting does not begin with. Heard alone,
# the caller is a person at the end of the utterance, without `AmdConfig.human_silence_s`
# more quiet. Greetings start with "안녕하세요", "hi", "您好" or a name ("…입니다"): those
# are not among them.
HELLO_WORDS: dict[str, tuple[str, ...]] = {
    "ko": ("여보세요", "네", "예", "누구 세요", "누구 시죠", "말씀 하세요"),
    "en": ("hello", "yes", "yeah", "who is this", "speaking"),
    "zh": ("喂", "哪位", "喂 你好", "请讲"),
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

    # -- irreversible nodes (dialer.conversation.confirm) --------------------------------------------
    def commits(self, node: str) -> str | None:
        """The irreversible action entering this node takes: "opt_out" for a node that
        ends the call as an opt-out (the number goes on the DNC list), the node's name
        for one marked `confirm: true`; None for an ordinary node."""
        n = self.nodes[node]
        if n.end == Outcome.OPT_OUT:
            return str(Outcome.OPT_OUT)
        return n.name[:32] if n.confirm else None

    def confirms(self, node: str) -> bool:
        """A weakly heard reply is confirmed before entering this node."""
        n = self.nodes[node]
        return n.confirm if n.confirm is not None else n.end == Outcome.OPT_OUT

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
