"""The call openings of bench/amd.py (bench/data/amd/openings.yml): what the robot hears
in the first seconds after the callee answers, each with the verdict it should give.

    - id: hs01
      kind: human_short          # one of KINDS
      text: 여보세요?             # "…" is a hesitation of `pause_ms`; empty: nobody speaks
      voice: {name: ko+f3, rate: 190, pitch: 60}   # espeak-ng; absent: the machine voice
      lead_s: 0.4                # quiet between the answer and the first word
      beep: {hz: 1000, ms: 500, gap_s: 0.3}        # machine_beep only
      noise: car@20              # the callee's own noise (as a persona's); absent: the line's
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dialer.sandbox.caller_voice import CallerVoice
from dialer.sandbox.personas import PersonaError, parse_noise, parse_voice

# kind -> the verdict the AMD should give
EXPECTED = {"human_short": "human", "human_long": "human", "silence": "unknown",
            "machine_beep": "machine", "machine_nobeep": "machine", "screener": "screener"}
KINDS = tuple(EXPECTED)
MACHINE_KINDS = frozenset({"machine_beep", "machine_nobeep", "screener"})  # not a person
KEYS = frozenset({"id", "kind", "text", "voice", "lead_s", "pause_ms", "beep", "noise"})
LEAD_RANGE = (0.0, 3.0)


class OpeningError(ValueError):
    pass


@dataclass(frozen=True)
class Beep:
    hz: float = 1000.0
    ms: int = 500
    gap_s: float = 0.3  # quiet between the greeting's last word and the beep


@dataclass(frozen=True)
class Opening:
    id: str
    kind: str
    text: str
    voice: CallerVoice | None  # None: the machine's steady voice
    lead_s: float = 0.5
    pause_ms: int = 500
    beep: Beep | None = None
    noise: tuple[str | None, float] | None = None  # (kind, snr_db); (None, 0): quiet

    @property
    def expected(self) -> str:
        return EXPECTED[self.kind]


def action(verdict: str | None) -> str:
    """What the robot does on a verdict: leave a message, or talk (greet first)."""
    if verdict is None:
        return "wait"
    return "message" if verdict == "machine" else "talk"


def load_openings(path: Path | str) -> list[Opening]:
    """Every opening of the file, checked; OpeningError names the file, entry and fix."""
    path = Path(path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    entries = raw.get("openings") if isinstance(raw, dict) else None
    if not isinstance(entries, list) or not entries:
        raise OpeningError(f"{path}: expected 'openings:' with a list of entries")
    out: list[Opening] = []
    seen: set[str] = set()
    for n, entry in enumerate(entries, 1):
        opening = _opening(f"{path}: entry {n}", entry)
        if opening.id in seen:
            raise OpeningError(f"{path}: id {opening.id!r} is used twice; ids must be unique")
        seen.add(opening.id)
        out.append(opening)
    return out


def _opening(where: str, entry: Any) -> Opening:
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) \
            or not entry["id"].strip():
        raise OpeningError(f"{where}: needs an 'id:' (a short unique name)")
    where = f"{where} ({entry['id']})"
    unknown = sorted(str(k) for k in set(entry) - KEYS)
    if unknown:
        raise OpeningError(f"{where}: unknown key {unknown[0]!r}; keys are {sorted(KEYS)}")
    kind = entry.get("kind")
    if kind not in EXPECTED:
        raise OpeningError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    text = entry.get("text") or ""
    if not isinstance(text, str) or (kind == "silence") != (not text.strip()):
        raise OpeningError(f"{where}: 'text:' must be what is said, and empty exactly for "
                           "kind silence")
    beep = _beep(where, entry.get("beep"))
    if (beep is not None) != (kind == "machine_beep"):
        raise OpeningError(f"{where}: 'beep:' is for kind machine_beep, which needs one")
    voice = _voice(where, entry.get("voice"))
    if voice is None and kind.startswith("human"):
        raise OpeningError(f"{where}: a person needs 'voice:' (e.g. {{name: ko+f3}})")
    return Opening(entry["id"].strip(), kind, text.strip(), voice,
                   _number(where, "lead_s", entry.get("lead_s", 0.5), LEAD_RANGE),
                   int(_number(where, "pause_ms", entry.get("pause_ms", 500), (100, 3000))),
                   beep, _noise(where, entry.get("noise")))


def _number(where: str, key: str, value: Any, bounds: tuple[float, float]) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not bounds[0] <= value <= bounds[1]:
        raise OpeningError(f"{where}: {key} {value!r} must be a number from {bounds[0]:g} "
                           f"to {bounds[1]:g}")
    return float(value)


def _voice(where: str, raw: Any) -> CallerVoice | None:
    """As a persona's voice (dialer/sandbox/personas.py), with this file's error."""
    try:
        return parse_voice(where, raw)
    except PersonaError as exc:
        raise OpeningError(str(exc)) from None


def _beep(where: str, raw: Any) -> Beep | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not set(raw) <= {"hz", "ms", "gap_s"}:
        raise OpeningError(f"{where}: beep {raw!r} must be {{hz: 1000, ms: 500, gap_s: 0.3}}")
    return Beep(_number(where, "beep.hz", raw.get("hz", 1000), (300, 3000)),
                int(_number(where, "beep.ms", raw.get("ms", 500), (100, 2000))),
                _number(where, "beep.gap_s", raw.get("gap_s", 0.3), (0.0, 3.0)))


def _noise(where: str, raw: Any) -> tuple[str | None, float] | None:
    """As a persona's `noise:`: street@15 (its level against speech); none: quiet."""
    if raw is None:
        return None
    try:
        return parse_noise(where, raw)
    except PersonaError as exc:
        raise OpeningError(str(exc)) from None
