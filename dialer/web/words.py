"""The users' words for the codes the dialer stores: one catalogue for every page, chart
and export, so a disposition reads the same everywhere ("Not interested", never
`not_interested`) and keeps its colour whatever the filters (success green, refusals
red, the line's own failures grey).

English and Korean; a code missing here is shown in words made from the code itself
(and a test keeps every stored disposition in the catalogue)."""

from __future__ import annotations

from typing import Any

# code -> (English, Korean)
DISPOSITIONS: dict[str, tuple[str, str]] = {
    "interested": ("Interested", "관심 있음"),
    "not_interested": ("Not interested", "관심 없음"),
    "callback": ("Call back later", "다시 전화 요청"),
    "handoff": ("Handed to an agent", "상담원 연결"),
    "opt_out": ("Opted out", "수신 거부"),
    "no_input": ("Said nothing", "응답 없음"),
    "hung_up": ("Hung up", "통화 중 끊음"),
    "dead_air": ("Could not hear us", "소리 안 들림"),
    "machine": ("Answering machine", "자동 응답기"),
    "no_answer": ("No answer", "받지 않음"),
    "busy": ("Busy", "통화 중"),
    "declined": ("Declined the call", "수신 거절"),
    "failed": ("Call failed", "연결 실패"),
    "invalid_number": ("Invalid number", "없는 번호"),
    "blocked": ("On a do-not-call list", "수신 거부 목록"),
    "interrupted": ("Cut off (dialer stopped)", "중단됨 (다이얼러 정지)"),
}

# Fixed colours: what went well is green, refusals red, no contact greys and ambers.
DISPOSITION_COLOURS: dict[str, str] = {
    "interested": "#067647", "callback": "#2e90fa", "handoff": "#7a5af8",
    "not_interested": "#d92d20", "opt_out": "#912018", "blocked": "#b42318",
    "no_input": "#f79009", "hung_up": "#dc6803", "dead_air": "#b54708",
    "machine": "#98a2b3", "no_answer": "#667085", "busy": "#475467",
    "declined": "#fda29b", "failed": "#344054", "invalid_number": "#1d2939",
    "interrupted": "#101828",
}
LANGUAGES = ("en", "ko")


def _from_code(code: str) -> str:
    return code.replace("_", " ").capitalize()


def _say(table: dict[str, tuple[str, str]], code: str, language: str) -> str:
    """The code's words in `language` (English when the language is not one of ours),
    or words made from the code when the table does not know it."""
    words = table.get(code)
    if words is None:
        return _from_code(code)
    return words[LANGUAGES.index(language) if language in LANGUAGES else 0]


def disposition_word(code: str, language: str = "en") -> str:
    return _say(DISPOSITIONS, code, language)


def disposition_colour(code: str) -> str:
    return DISPOSITION_COLOURS.get(code, "#667085")


def duration_parts(seconds: float) -> list[tuple[int, str]]:
    """5400 -> [(1, "h"), (30, "min")]: the units people say a delay in (seconds only
    under an hour), at least one."""
    d, rest = divmod(int(seconds), 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    parts = [(n, unit) for n, unit in ((d, "d"), (h, "h"), (m, "min"),
                                       (0 if d or h else s, "s")) if n]
    return parts or [(0, "s")]


def duration_words(seconds: float | None) -> str:
    """3600 -> "1 h", 5400 -> "1 h 30 min", 90 -> "1 min 30 s": how people say a delay."""
    if seconds is None:
        return ""
    return " ".join(f"{n} {unit}" for n, unit in duration_parts(seconds))


# The demo's intents and the usual ones of outbound scripts; a script's own intents are
# shown from their names ("ask_delivery" -> "Ask delivery").
INTENTS: dict[str, tuple[str, str]] = {
    "affirm": ("Yes", "예"),
    "deny": ("No", "아니요"),
    "ask_price": ("Asked the price", "가격 문의"),
    "too_expensive": ("Too expensive", "비싸다고 함"),
    "already_have": ("Already has one", "이미 사용 중"),
    "call_later": ("Call later", "나중에 통화"),
    "request_human": ("Asked for a person", "상담원 요청"),
    "ask_identity": ("Asked who is calling", "누구인지 물음"),
    "cant_hear": ("Could not hear", "잘 안 들림"),
    "opt_out": ("Asked not to be called", "수신 거부 요청"),
    "nlu_fallback": ("Not understood", "이해하지 못함"),
}


def intent_word(code: str, language: str = "en") -> str:
    return _say(INTENTS, code, language)


def reason_words(reason: str | None) -> str:
    """Why the robot ended or handed off a call, as the worker stores it
    (dialer.conversation.policy), in a sentence: "customer intent request_human" ->
    "The customer asked for a person"."""
    text = (reason or "").strip()
    if text.startswith("customer intent "):
        intent = text.removeprefix("customer intent ").strip()
        return f"The customer: {intent_word(intent).lower()}"
    if text.startswith("robot unsure: "):
        detail = text.removeprefix("robot unsure: ").split(" (last:")[0]
        return f"The robot was not sure what the customer meant ({detail})"
    if text.startswith("negative wording: "):
        return f"The customer sounded upset (said {text.removeprefix('negative wording: ')})"
    return text[:1].upper() + text[1:]


# Campaigns', imports' and contacts' states.
STATUSES: dict[str, tuple[str, str]] = {
    "draft": ("Draft", "초안"), "running": ("Running", "진행 중"), "paused": ("Paused", "일시 정지"),
    "stopped": ("Stopped", "중지됨"), "finished": ("Finished", "완료"),
    "queued": ("Queued", "대기 중"), "needs_mapping": ("Needs its columns", "열 지정 필요"),
    "done": ("Done", "완료"), "failed": ("Failed", "실패"),
    "pending": ("Waiting", "대기"), "claimed": ("Being called", "통화 중"),
    "dialing": ("Dialing", "발신 중"), "answered": ("Answered", "통화 연결됨"),
    "completed": ("Completed", "완료"),
}


def status_word(code: str, language: str = "en") -> str:
    return _say(STATUSES, code, language)


# The roles of the web app's users.
ROLES: dict[str, tuple[str, str]] = {
    "admin": ("Administrator", "시스템 관리자"), "marketing": ("Marketing", "마케팅"),
    "agent": ("Agent", "상담원"), "supervisor": ("Supervisor", "관리자"),
    "analyst": ("Analyst", "분석가"),
}


def role_word(code: str, language: str = "en") -> str:
    return _say(ROLES, code, language)


def for_language(language: str) -> dict[str, Any]:
    """The template functions that say codes in `language`: `word` (a disposition),
    `intent`, `status` and `role`, and `colour` (a disposition's fixed colour)."""
    return {"word": lambda code: disposition_word(str(code), language),
            "intent": lambda code: intent_word(str(code), language),
            "status": lambda code: status_word(str(code), language),
            "role": lambda code: role_word(str(code), language),
            "colour": disposition_colour}
