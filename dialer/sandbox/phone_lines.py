"""The line a dry-run's simulated callers are on: codec, background noise, packet loss.

A line is the simulator's (a trunk's) and the robot knows nothing of it: the simulator
answers offering only the line's codec, drops that share of the RTP packets it sends
(pjmedia's own loss simulation, so the robot's jitter buffer conceals them as on a real
network) and mixes the noise into everything it sends, between words too. A persona may
bring its own noise (`noise:`), which replaces the line's.

Written as a mapping in YAML (`{codec: PCMU, noise: street, snr_db: 15, loss_pct: 2}`) or
as one word on the command line: `pcmu+street@15+loss@2`, `g722`, `clean`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dialer.sandbox.noise import KINDS

CODECS = {"PCMU": "PCMU/8000", "PCMA": "PCMA/8000", "G722": "G722/16000"}
SNR_RANGE = (-5.0, 60.0)
LOSS_RANGE = (0.0, 50.0)


class LineError(ValueError):
    pass


@dataclass(frozen=True)
class LineSpec:
    codec: str | None = None  # None: whatever the robot offers first
    noise: str | None = None  # one of noise.KINDS
    snr_db: float = 15.0  # speech this many dB above the noise
    loss_pct: float = 0.0  # share of the RTP packets sent to the robot that are lost

    @property
    def name(self) -> str:
        """The command-line spelling, which parses back to this line."""
        parts = [self.codec.lower()] if self.codec else []
        if self.noise:
            parts.append(f"{self.noise}@{self.snr_db:g}")
        if self.loss_pct:
            parts.append(f"loss@{self.loss_pct:g}")
        return "+".join(parts) or "clean"

    def codecs(self) -> tuple[str, ...] | None:
        """The simulator's codecs for this line (None: its defaults)."""
        return (CODECS[self.codec],) if self.codec else None


def parse_line(raw: Any, where: str = "line") -> LineSpec:
    """A line from its command-line word or its YAML mapping; LineError names `where`."""
    if isinstance(raw, LineSpec):
        return raw
    if isinstance(raw, str):
        return _from_word(raw.strip(), where)
    if isinstance(raw, dict):
        unknown = sorted(str(k) for k in set(raw) - {"codec", "noise", "snr_db", "loss_pct"})
        if unknown:
            raise LineError(f"{where}: unknown key {unknown[0]!r}; a line has codec, "
                            "noise, snr_db and loss_pct")
        return _checked(where, raw.get("codec"), raw.get("noise"), raw.get("snr_db", 15.0),
                        raw.get("loss_pct", 0.0))
    raise LineError(f"{where}: {raw!r} is no line; write e.g. pcmu+street@15+loss@2 or "
                    "{codec: PCMU, noise: street, snr_db: 15, loss_pct: 2}")


def _from_word(word: str, where: str) -> LineSpec:
    if word.lower() in ("clean", "default", ""):
        return LineSpec()
    codec = noise = None
    snr: Any = 15.0
    loss: Any = 0.0
    for part in word.split("+"):
        key, _, value = part.partition("@")
        key = key.strip().lower()
        if key.upper() in CODECS and not value:
            codec = key.upper()
        elif key == "loss":
            loss = _number(where, "loss", value)
        elif key in KINDS:
            noise, snr = key, _number(where, key, value) if value else 15.0
        else:
            raise LineError(f"{where}: {part!r} in {word!r} is neither a codec "
                            f"({', '.join(c.lower() for c in CODECS)}), a noise "
                            f"({', '.join(KINDS)}, as street@15 for 15 dB SNR) nor loss@N")
    return _checked(where, codec, noise, snr, loss)


def _number(where: str, key: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise LineError(f"{where}: {key}@{value!r} needs a number") from None


def _checked(where: str, codec: Any, noise: Any, snr: Any, loss: Any) -> LineSpec:
    if codec is not None and (not isinstance(codec, str) or codec.upper() not in CODECS):
        raise LineError(f"{where}: codec {codec!r} is not one the simulator has; one of "
                        f"{', '.join(CODECS)}")
    if noise is not None and noise not in KINDS:
        raise LineError(f"{where}: noise {noise!r} is no noise kind; one of {', '.join(KINDS)}")
    for key, value, (low, high) in (("snr_db", snr, SNR_RANGE), ("loss_pct", loss, LOSS_RANGE)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not (
                low <= value <= high):
            raise LineError(f"{where}: {key} {value!r} must be a number from {low:g} to "
                            f"{high:g}")
    if loss != int(loss):  # pjmedia drops whole percents
        raise LineError(f"{where}: loss_pct {loss!r} must be a whole percent")
    return LineSpec(codec.upper() if codec else None, noise, float(snr), float(loss))
