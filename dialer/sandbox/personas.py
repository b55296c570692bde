"""Simulated customers' personas (personas.yml), read and checked: plain data, no SIP, so
the web app can check a dry-run's personas without loading the simulator's user agent.
The format is described in dialer/sandbox/simulator.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from campaigns.refusals import Code, Phrase
from campaigns.statuses import Disposition
from dialer.sandbox.caller_voice import PITCH_RANGE, RATE_RANGE, VOICE_NAME, CallerVoice
from dialer.sandbox.phone_lines import LineError, LineSpec, parse_line

ANSWER_MODES = {"answer", "busy", "no_answer", "decline", "machine", "agent"}
DISPOSITIONS = frozenset(d.value for d in Disposition)
PERSONA_KEYS = frozenset({"name", "number", "answer", "ring_s", "replies", "hello",
                          "greeting", "beep", "echo", "hears", "talk_s", "expect",
                          "noise", "voice", "pause_ms"})


class PersonaError(ValueError):
    pass


@dataclass(frozen=True)
class Reply:
    kind: str  # say | silent | hangup
    text: str = ""
    over_s: float | None = None  # say it over the robot, this long into its prompt
    after_s: float | None = None  # say it this long after our last words, not listening


@dataclass(frozen=True)
class Expectation:
    """How the persona's call should end (`expect:`); None: not checked."""

    disposition: str | None = None
    node: str | None = None  # the script node the conversation ends in

    def check(self, disposition: str | None, node: str | None) -> Phrase | None:
        """None when a call that ended so meets it; otherwise what differs, in words (a
        phrase: a page says it in the reader's language, dispositions as its words)."""
        ended = at_node = None
        if self.disposition is not None and disposition != self.disposition:
            wanted = Code(self.disposition, "disposition")
            ended = (Phrase("ended {disposition}, expected {expected}",
                            disposition=Code(disposition, "disposition"), expected=wanted)
                     if disposition else
                     Phrase("ended with no disposition, expected {expected}", expected=wanted))
        if self.node is not None and node != self.node:
            at_node = (Phrase("ended at node {node}, expected {expected}", node=node,
                              expected=self.node) if node else
                       Phrase("ended at node none, expected {expected}", expected=self.node))
        if ended and at_node:  # "; " as before, one sentence of both
            return Phrase("{ended}; {at_node}", ended=ended, at_node=at_node)
        return ended or at_node


@dataclass(frozen=True)
class Persona:
    name: str
    number: str
    answer: str = "answer"
    ring_s: float = 1.0
    replies: tuple[Reply, ...] = field(default_factory=tuple)
    hello: str = ""  # said as soon as the call is answered ("여보세요?")
    greeting: str = ""  # answer: machine -- the recorded greeting, then a beep
    beep: bool = True  # answer: machine -- false: a machine that records without one
    # A line that echoes: what the robot says comes back this much later, this loud.
    echo_ms: int | None = None
    echo_gain: float = 0.5
    # One-way audio: the robot's voice never reaches this caller, who says its replies
    # on a timer (`after:`) the way a person does who hears nothing ("여보세요?").
    hears: bool = True
    # answer: agent -- the agent hangs up this long after answering (None: never).
    talk_s: float | None = None
    expect: Expectation | None = None  # how the call should end; a dry-run checks it
    # Its own background noise (kind, SNR dB) instead of the line's; (None, 0): quiet.
    noise: tuple[str | None, float] | None = None
    voice: CallerVoice | None = None  # None: the simulator's voice
    pause_ms: int = 600  # each "…" in a reply is a pause this long


def load_personas(path: Path | str) -> dict[str, Persona]:
    """Personas by number. Errors name the file and the persona."""
    path = Path(path)
    out: dict[str, Persona] = {}
    for i, raw in enumerate(_persona_items(path), 1):
        persona = _persona(path, i, raw, out)
        out[persona.number] = persona
    return out


def load_lines(path: Path | str) -> list[LineSpec]:
    """The lines a dry-run calls the personas on (top-level `lines:`, the matrix's other
    side); one clean line when the file names none."""
    path = Path(path)
    data = _read(path)
    raw = data.get("lines") if isinstance(data, dict) else None
    if raw is None:
        return [LineSpec()]
    if not isinstance(raw, list) or not raw:
        raise PersonaError(f"{path}: lines must be a list of lines, e.g. [g722, pcmu, "
                           "pcmu+street@15, pcma+babble@10+loss@2]")
    try:
        lines = [parse_line(item, f"{path}: lines[{i}]") for i, item in enumerate(raw)]
    except LineError as exc:
        raise PersonaError(str(exc)) from None
    return list(dict.fromkeys(lines))


def _read(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PersonaError(f"{path}: cannot read personas ({exc})") from None
    except UnicodeDecodeError as exc:
        raise PersonaError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); "
                           "save the file as UTF-8") from None


def _persona_items(path: Path) -> list[Any]:
    """The entries of the file's `personas:` list, not yet checked."""
    data = _read(path)
    items = (data or {}).get("personas") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise PersonaError(f"{path}: expected 'personas:' with a list of personas")
    return items


def _persona(path: Path, i: int, raw: Any, taken: dict[str, Persona]) -> Persona:
    """The i-th entry, checked; `taken` holds the personas before it, by number."""
    if not isinstance(raw, dict):
        raise PersonaError(f"{path}: persona #{i} must be a mapping with name:, number: "
                           f"and the persona's other keys, not {raw!r}")
    name = str(raw.get("name", f"#{i}"))
    where = f"{path}: persona {name!r}"
    unknown = sorted(str(k) for k in set(raw) - PERSONA_KEYS)
    if unknown:
        # A misspelt key would silently leave out what the author meant to test.
        raise PersonaError(f"{where}: unknown key {unknown[0]!r}; a persona has "
                           f"{', '.join(sorted(PERSONA_KEYS))}")
    number = str(raw.get("number", "")).strip()
    if not number:
        raise PersonaError(f"{where}: 'number:' is required (the number the robot dials)")
    if number in taken:
        # The simulator picks a persona by the number dialed: a second one would never
        # answer, and its test would silently not happen.
        raise PersonaError(f"{where}: number {number} is also persona "
                           f"{taken[number].name!r}'s; give each persona its own number")
    mode = raw.get("answer", "answer")
    if not isinstance(mode, str) or mode not in ANSWER_MODES:
        raise PersonaError(f"{where}: answer {mode!r} must be one of {sorted(ANSWER_MODES)}")
    ring = raw.get("ring_s", 1.0)
    if isinstance(ring, bool) or not isinstance(ring, int | float) or not 0 <= ring < 3600:
        raise PersonaError(f"{where}: ring_s {ring!r} must be seconds from 0 to 3600")
    replies = _replies(where, raw.get("replies"))
    hears = _hears(where, raw.get("hears", True), replies)
    talk = _answer_keys(where, mode, raw)
    echo = _echo(where, raw.get("echo"))
    return Persona(name=name, number=number, answer=mode,
                   ring_s=float(ring), replies=tuple(replies),
                   hello=str(raw.get("hello", "")),
                   greeting=str(raw.get("greeting", "")),
                   beep=bool(raw.get("beep", True)),
                   echo_ms=echo["ms"] if echo else None,
                   echo_gain=float(echo.get("gain", 0.5)) if echo else 0.5,
                   hears=hears, talk_s=talk, expect=_expect(where, raw.get("expect")),
                   noise=parse_noise(where, raw.get("noise", "line")),
                   voice=parse_voice(where, raw.get("voice")),
                   pause_ms=_whole(where, "pause_ms", raw.get("pause_ms", 600), (100, 5000)))


def _replies(where: str, items: Any) -> list[Reply]:
    """`replies:`, one entry per robot prompt."""
    if not isinstance(items or [], list):
        raise PersonaError(f"{where}: replies must be a list, one entry per robot prompt")
    return [_reply(where, r) for r in items or []]


def _reply(where: str, r: Any) -> Reply:
    """One entry of `replies:`: {say: text} or {dtmf: keys}, with an optional over: or
    after:, or silent or hangup."""
    kind = next((k for k in ("say", "dtmf") if isinstance(r, dict) and k in r), None)
    if kind is not None and isinstance(r, dict) and set(r) <= {kind, "over", "after"}:
        over, after = r.get("over"), r.get("after")
        for key, value in (("over", over), ("after", after)):
            if value is not None and not (isinstance(value, int | float)
                                          and not isinstance(value, bool)
                                          and value >= 0):
                raise PersonaError(f"{where}: reply {r!r}: {key} must be seconds >= 0")
        if over is not None and after is not None:
            raise PersonaError(f"{where}: reply {r!r}: over (timed by the robot's "
                               "prompt) and after (by our last words) exclude "
                               "each other")
        text = str(r[kind])
        if kind == "dtmf" and not (text and set(text) <= set("0123456789*#")):
            raise PersonaError(f"{where}: reply {r!r}: dtmf must be phone keys")
        return Reply(kind, text, float(over) if over is not None else None,
                     float(after) if after is not None else None)
    if r in ("silent", "hangup"):
        return Reply(str(r))
    raise PersonaError(f"{where}: reply {r!r} must be {{say: text}} or "
                       "{dtmf: keys} (with an optional over: or after: "
                       "seconds), silent or hangup")


def _hears(where: str, hears: Any, replies: list[Reply]) -> bool:
    """`hears:`; a persona that hears nothing times every reply with after:."""
    if not isinstance(hears, bool):
        raise PersonaError(f"{where}: hears {hears!r} must be true or false")
    if not hears and any(r.after_s is None for r in replies):
        raise PersonaError(f"{where}: a persona with hears: false cannot wait for the "
                           "robot's prompts; every reply must be {say: ..., after: "
                           "seconds} or {dtmf: ..., after: seconds}")
    return hears


def _answer_keys(where: str, mode: str, raw: dict[str, Any]) -> float | None:
    """What `answer: agent` and `answer: machine` need (a greeting), and talk_s, which
    only an agent has; returns talk_s (None: the agent never hangs up)."""
    if mode == "agent" and not str(raw.get("greeting", "")).strip():
        raise PersonaError(f"{where}: answer: agent needs 'greeting:' (what the agent "
                           "says on picking up)")
    if mode == "machine" and not str(raw.get("greeting", "")).strip():
        raise PersonaError(f"{where}: answer: machine needs 'greeting:' (what it plays "
                           "before the beep)")
    talk = raw.get("talk_s")
    if talk is not None and (mode != "agent" or isinstance(talk, bool)
                             or not isinstance(talk, int | float) or talk <= 0):
        raise PersonaError(f"{where}: talk_s {talk!r} is for answer: agent, seconds > 0")
    return float(talk) if talk else None


def _echo(where: str, echo: Any) -> dict[str, Any] | None:
    """`echo: {ms: delay, gain: 0..1}`, or None."""
    if echo is not None and not (isinstance(echo, dict) and set(echo) <= {"ms", "gain"}
                                 and isinstance(echo.get("ms"), int) and echo["ms"] >= 0
                                 and isinstance(echo.get("gain", 0.5), int | float)):
        raise PersonaError(f"{where}: echo {echo!r} must be {{ms: delay, gain: 0..1}}")
    return echo


def _expect(where: str, expect: Any) -> Expectation | None:
    """`expect: {disposition: ..., node: ...}` (either or both), or None."""
    if expect is None:
        return None
    if not isinstance(expect, dict) or not expect or not set(expect) <= {"disposition",
                                                                         "node"}:
        raise PersonaError(f"{where}: expect {expect!r} must be {{disposition: ..., "
                           "node: ...}} (either or both)")
    disposition, node = expect.get("disposition"), expect.get("node")
    if disposition is not None and (not isinstance(disposition, str)
                                    or disposition not in DISPOSITIONS):
        raise PersonaError(f"{where}: expect.disposition {disposition!r} is no "
                           f"disposition; one of {', '.join(sorted(DISPOSITIONS))}")
    if node is not None and (not isinstance(node, str) or not node.strip()):
        raise PersonaError(f"{where}: expect.node {node!r} must be the name of a node "
                           "of the script")
    return Expectation(disposition, node.strip() if node is not None else None)


def parse_noise(where: str, noise: Any) -> tuple[str | None, float] | None:
    """`noise:` street@15 or {kind: street, snr_db: 15}; none: quiet on any line; absent:
    the line's."""
    if noise == "line":
        return None
    if noise in (None, "none", False):
        return (None, 0.0)
    raw = ({"noise": noise.get("kind"), "snr_db": noise.get("snr_db", 15.0)}
           if isinstance(noise, dict) and set(noise) <= {"kind", "snr_db"} else noise)
    try:
        spec = parse_line(raw, f"{where}: noise")
    except LineError as exc:
        raise PersonaError(str(exc)) from None
    if spec.codec or spec.loss_pct or not spec.noise:
        raise PersonaError(f"{where}: noise {noise!r} must be a noise such as street@15 or "
                           "{kind: street, snr_db: 15} (codec and loss are the line's)")
    return (spec.noise, spec.snr_db)


def parse_voice(where: str, voice: Any) -> CallerVoice | None:
    """`voice: ko+f3` or {name: ko+f3, rate: 230, pitch: 70} (espeak-ng's -v, -s, -p)."""
    if voice is None:
        return None
    raw = {"name": voice} if isinstance(voice, str) else voice
    if not isinstance(raw, dict) or not set(raw) <= {"name", "rate", "pitch"} \
            or not isinstance(raw.get("name"), str) or not VOICE_NAME.match(raw["name"]):
        raise PersonaError(f"{where}: voice {voice!r} must be an espeak-ng voice such as "
                           "ko+f3, or {name: ko+f3, rate: 230, pitch: 70}")
    return CallerVoice(raw["name"], _whole(where, "voice.rate", raw.get("rate", 175),
                                           RATE_RANGE),
                       _whole(where, "voice.pitch", raw.get("pitch", 50), PITCH_RANGE))


def _whole(where: str, key: str, value: Any, bounds: tuple[int, int]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) \
            or not bounds[0] <= value <= bounds[1]:
        raise PersonaError(f"{where}: {key} {value!r} must be a whole number from "
                           f"{bounds[0]} to {bounds[1]}")
    return value
