"""How a simulated caller sounds: an espeak-ng voice variant, speaking rate and pitch of
their own (not the robot's), and pauses where they hesitate.

`say: "음… 그게… 얼마라고요"`: each "…" (or "...") is a pause of the persona's `pause_ms`
inside one reply, the way people think aloud, which is what an endpoint must not cut.
Voices are rendered with the espeak-ng command (the simulator only; the robot speaks
with pyttsx3) and cached on disk like the robot's prompts.
"""

from __future__ import annotations

import hashlib
import html
import io
import re
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

from voices.audio import resample, silence

PAUSE = re.compile(r"\s*(?:…|\.\.\.)\s*")
VOICE_NAME = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]+)?(?:\+[A-Za-z0-9_]+)?$")
RATE_RANGE = (80, 450)  # words per minute, as espeak-ng -s
PITCH_RANGE = (0, 99)  # espeak-ng -p


@dataclass(frozen=True)
class CallerVoice:
    name: str  # an espeak-ng voice, with a variant: "ko", "ko+f3"
    rate: int = 175
    pitch: int = 50


def segments(text: str) -> list[str]:
    """The stretches of speech between a reply's pauses."""
    return [s for s in PAUSE.split(text.strip()) if s]


def render(voice: CallerVoice, text: str, sample_rate: int, cache_dir: Path | None,
           pause_ms: int | None = None) -> bytes:
    """16-bit mono PCM of `text` in `voice` at `sample_rate`. With `pause_ms`, each "…"
    in it is a pause of that long inside one utterance: the words before it keep the
    rising or level pitch of someone not done (rendered apart, each stretch would end
    with the fall of a finished sentence, which no one thinking aloud makes)."""
    key = hashlib.sha1(f"{voice}|{sample_rate}|{text}|{pause_ms}".encode()).hexdigest()
    cached = cache_dir / f"caller-{key}.pcm" if cache_dir else None
    if cached is not None and cached.is_file():
        return cached.read_bytes()
    args = ["espeak-ng", "-v", voice.name, "-s", str(voice.rate), "-p", str(voice.pitch)]
    if pause_ms is not None:
        pause = f'<break time="{int(pause_ms)}ms"/>'
        args += ["-m"]
        text = "<speak>" + pause.join(html.escape(s) for s in segments(text)) + "</speak>"
    try:
        out = subprocess.run([*args, "--stdout", text], capture_output=True,
                             timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise RuntimeError(f"espeak-ng could not speak as {voice}: {exc}") from None
    with wave.open(io.BytesIO(out)) as w:
        pcm = resample(w.readframes(w.getnframes()), w.getframerate(), sample_rate)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(pcm)
    return pcm


def with_pauses(parts: list[bytes], pause_ms: int, sample_rate: int) -> bytes:
    return silence(pause_ms, sample_rate).join(parts)
