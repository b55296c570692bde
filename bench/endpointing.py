"""Endpointing offline: how often the robot takes a caller's pause mid-thought for the end
of their reply (a false cut-off), and how long it waits once they have really finished.

Each reply of bench/data/endpointing/replies.yml is spoken by espeak-ng the way the
simulator's callers are (dialer/sandbox/caller_voice.py), in several voices, rates and
pitches, with a pause of 300-900 ms at each "…", after 0.3-0.8 s of lead silence and
before 2.5 s of trailing silence. Every render is heard clean, under street noise at 15 dB
SNR and under babble at 10 dB (made and levelled as the simulator does), optionally over
G.711, and pushed 20 ms at a time through a fresh voices.vad.Endpointer. The truth comes
from the render itself: each spoken segment is cut to its voiced samples (louder than
-45 dBFS), so the reply ends where its last one ends and each pause is its length
exactly. Renders are cached outside the repository. Prints JSON.

    .venv/bin/python bench/endpointing.py [--engine webrtc]
    .venv/bin/python bench/endpointing.py --config '{"end_silence_ms": 800}'
    .venv/bin/python bench/endpointing.py --engine silero --turn --codec pcmu

An "end" between the reply's first and last voiced sample is a false cut-off (the first
one is reported); latency runs from the reply's end to the first "end" at or after it,
on replies not cut off. A reply with neither is missed. A "start" before the reply
begins was set off by the noise of the lead silence.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
import json
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dialer.sandbox.caller_voice import CallerVoice, render, segments
from dialer.sandbox.noise import NoiseBeds, NoiseLoop, active_rms
from voices.audio import silence
from voices.vad import Endpointer, VadConfig

SET = ROOT / "bench" / "data" / "endpointing" / "replies.yml"
RATE, FRAME_MS = 16000, 20
FRAME_SAMPLES = RATE * FRAME_MS // 1000
FRAME_BYTES = 2 * FRAME_SAMPLES
KINDS = ("paused", "complete")
VOICES = ("ko", "ko+f3", "ko+m3")
WPM, PITCH = (150, 260), (30, 70)  # espeak-ng -s and -p, drawn per render
LEAD_MS, PAUSE_MS, TAIL_MS = (300, 800), (300, 900), 2500
# espeak-ng's voices fade out in breath at -50..-80 dBFS (ko+f3 most); words are louder.
VOICED_DBFS = -45.0
FILLER_GRAMMAR = True
LISTEN_MS = 3000  # the robot's question, before the reply: the line alone
CONDITIONS: tuple[tuple[str, str | None, float], ...] = (
    ("clean", None, 0.0), ("street@15", "street", 15.0), ("babble@10", "babble", 10.0))


@dataclass(frozen=True)
class Reply:
    id: str
    text: str
    kind: str  # "paused": thinks aloud at each "…"; "complete": says it in one go


@dataclass(frozen=True)
class Item:
    """One rendered reply (lead silence, words and pauses, trailing silence) and where
    the voiced samples of each of its spoken segments are."""

    reply: Reply
    variant: int
    voice: CallerVoice
    lead_ms: int
    pauses_ms: tuple[int, ...]
    pcm: bytes
    spans: tuple[tuple[int, int], ...]

    @property
    def start_ms(self) -> float:
        return self.spans[0][0] * 1000 / RATE

    @property
    def end_ms(self) -> float:
        return self.spans[-1][1] * 1000 / RATE

    @property
    def gaps_ms(self) -> list[int]:
        """The quiet between the words of the reply (its pauses, to the sample)."""
        return [round((b[0] - a[1]) * 1000 / RATE) for a, b in zip(self.spans, self.spans[1:])]


@dataclass(frozen=True)
class Outcome:
    item: Item
    condition: str
    cut_at_ms: int | None  # the first "end" while words were still to come
    latency_ms: int | None  # the reply's end to its "end", when not cut off
    false_start: bool

    @property
    def missed(self) -> bool:
        return self.cut_at_ms is None and self.latency_ms is None


def load_replies(path: Path = SET) -> list[Reply]:
    """The set, checked: unique ids, a known kind, and one or two "…" exactly in the
    replies labelled paused. Raises ValueError naming the entry and what to fix."""
    try:
        rows = yaml.safe_load(path.read_text(encoding="utf-8"))["replies"]
        assert isinstance(rows, list)
    except (OSError, yaml.YAMLError, KeyError, TypeError, AssertionError) as exc:
        raise ValueError(f"{path}: expected a top-level `replies:` list ({exc!r})") from None
    replies: list[Reply] = []
    seen: set[str] = set()
    for n, row in enumerate(rows, 1):
        where = f"{path}, reply {n}"
        if not isinstance(row, dict) or not all(isinstance(row.get(k), str) and row[k]
                                                for k in ("id", "text", "kind")):
            raise ValueError(f"{where}: needs non-empty string fields id, text and kind")
        reply = Reply(row["id"], row["text"].strip(), row["kind"])
        if reply.id in seen:
            raise ValueError(f"{where}: id {reply.id!r} is used twice; give it another")
        if reply.kind not in KINDS:
            raise ValueError(f"{where} ({reply.id}): kind {reply.kind!r}; one of {KINDS}")
        pauses = len(segments(reply.text)) - 1
        if pauses != reply.text.count("…") or pauses > 2 \
                or (pauses > 0) != (reply.kind == "paused"):
            raise ValueError(f"{where} ({reply.id}): a {reply.kind} reply has {pauses} "
                             "pause(s); paused ones put one or two \"…\" between words, "
                             "complete ones none")
        seen.add(reply.id)
        replies.append(reply)
    return replies


def voiced_span(pcm: bytes, rate: int = RATE, dbfs: float = VOICED_DBFS,
                window_ms: int = 10) -> tuple[int, int] | None:
    """First and one-past-last sample of the `window_ms` windows louder than `dbfs`:
    where the words of a render are, without the near-silence around them."""
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    size = rate * window_ms // 1000
    x_padded = np.concatenate([x, np.zeros(-len(x) % size)])
    level = np.sqrt((x_padded.reshape(-1, size) ** 2).mean(axis=1))
    loud = np.flatnonzero(level > 32768 * 10 ** (dbfs / 20))
    if not len(loud):
        return None
    return int(loud[0]) * size, min(len(x), (int(loud[-1]) + 1) * size)


def assemble(parts: Sequence[bytes], pauses_ms: Sequence[int], lead_ms: int,
             tail_ms: int = TAIL_MS, rate: int = RATE,
             frame_ms: int = FRAME_MS) -> tuple[bytes, list[tuple[int, int]]]:
    """Lead silence, the spoken parts with a pause between each two, trailing silence
    (padded to whole frames); and where each part's words fall in it. Each part is cut
    to its voiced samples first: espeak-ng ends a render with 120-390 ms of its own
    near-silence, which would lengthen every pause by that much."""
    if len(pauses_ms) != len(parts) - 1:
        raise ValueError(f"{len(parts)} spoken parts need {len(parts) - 1} pauses")
    out = [silence(lead_ms, rate)]
    spans: list[tuple[int, int]] = []
    for i, part in enumerate(parts):
        if i:
            out.append(silence(pauses_ms[i - 1], rate))
        span = voiced_span(part, rate)
        if span is None:
            raise ValueError(f"spoken part {i + 1} has no sample above {VOICED_DBFS} dBFS")
        at = sum(len(b) for b in out) // 2
        spans.append((at, at + span[1] - span[0]))
        out.append(part[2 * span[0]:2 * span[1]])
    out.append(silence(tail_ms, rate))
    pcm = b"".join(out)
    return pcm + bytes(-len(pcm) % (2 * rate * frame_ms // 1000)), spans


def render_item(reply: Reply, variant: int, seed: int, cache: Path,
                joined: bool = True) -> Item:
    """Variant `variant` of a reply: its voice (each variant another), rate, pitch, lead
    and pauses drawn from a generator seeded by the reply, so a run is repeatable.
    `joined`: said in one breath as the simulator's callers say it (pitch stays up over
    a pause; all its pauses are the first one drawn); else each stretch rendered apart
    (each ends with the fall of a finished sentence) with pauses exactly as drawn."""
    rng = np.random.default_rng(zlib.crc32(f"{seed}|{reply.id}|{variant}".encode()))
    name = VOICES[(zlib.crc32(reply.id.encode()) + variant) % len(VOICES)]
    voice = CallerVoice(name, int(rng.integers(WPM[0], WPM[1] + 1)),
                        int(rng.integers(PITCH[0], PITCH[1] + 1)))
    parts = segments(reply.text)
    pauses = tuple(int(rng.integers(PAUSE_MS[0], PAUSE_MS[1] + 1)) for _ in parts[1:])
    lead = int(rng.integers(LEAD_MS[0], LEAD_MS[1] + 1))
    try:
        if joined:
            whole = render(voice, reply.text, RATE, cache, pauses[0] if pauses else None)
            pcm, spans = assemble([whole], (), lead)
        else:
            pcm, spans = assemble([render(voice, p, RATE, cache) for p in parts], pauses, lead)
    except ValueError as exc:
        raise SystemExit(f"reply {reply.id!r} in {voice}: {exc}") from None
    return Item(reply, variant, voice, lead, pauses, pcm, tuple(spans))


def babble_speech(cache: Path) -> list[np.ndarray]:
    """A room's talkers as the simulator makes them: a dozen background remarks, spoken."""
    from nlu.background import remarks

    lines = remarks("ko")
    return [np.frombuffer(render(CallerVoice(VOICES[i % len(VOICES)]), t, RATE, cache),
                          dtype="<i2").astype(np.float64)
            for i, t in enumerate(lines[::max(1, len(lines) // 12)][:12])]


def heard(pcm: bytes, index: int, noise: np.ndarray | None, codec: str) -> bytes:
    """`heard_alone` after LISTEN_MS of the line alone, as when the caller listened to
    the robot's question (the endpointer runs all along and learns the line)."""
    return heard_alone(silence(LISTEN_MS, RATE) + pcm, index, noise, codec)


def heard_alone(pcm: bytes, index: int, noise: np.ndarray | None, codec: str) -> bytes:
    """A render as the robot gets it: the line's noise under it (from a different point
    of the bed for each render), then the codec."""
    if noise is not None:
        loop = NoiseLoop(noise, FRAME_SAMPLES, index * 7919 * FRAME_SAMPLES)
        pcm = b"".join(loop.under(pcm[i:i + FRAME_BYTES]) for i in range(0, len(pcm),
                                                                           FRAME_BYTES))
    if codec == "pcmu":
        from bench.asr_replies import line

        pcm = line(pcm, "pcmu", 0, extend=False)  # the robot's VAD hears it unextended
    return pcm


def run(make: Callable[[], Endpointer], pcm: bytes) -> tuple[list[tuple[str, int]], float]:
    """The events of a fresh endpointer over `pcm`, each with the time (ms) at the end of
    the frame that set it off; and the CPU seconds its pushes took."""
    frames = [pcm[i:i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]
    endpointer = make()
    events: list[tuple[str, int]] = []
    cpu = time.process_time()
    for n, frame in enumerate(frames, 1):
        event = endpointer.push(frame)
        if event is not None:
            events.append((event, n * FRAME_MS))
    return events, time.process_time() - cpu


def heard_by_words(cfg: VadConfig) -> Callable[[bytes], tuple[list[tuple[str, int]], float]]:
    """Like `run`, but through the call's own processors: the endpointer asks the words
    judge (dialer.conversation.turn_end), which reads the recogniser's early reading of
    the utterance (vosk with the demo greeting's grammar, as on a call)."""
    from dialer.conversation.frames import (
        InputAudio,
        Listen,
        UserStartedSpeaking,
        UserStoppedSpeaking,
    )
    from dialer.conversation.kit import load_kit
    from dialer.conversation.pipeline import UP, run_test
    from dialer.conversation.policy import DialoguePolicy
    from dialer.conversation.processors import AsrProcessor, VadProcessor
    from dialer.conversation.turn_end import ReplyCompleteness
    from voices.asr import VoskAsr, load_model, resolve_model_path

    kit = load_kit(ROOT / "campaigns" / "examples" / "demo")
    asr = VoskAsr(load_model(resolve_model_path(None, "ko")))
    policy = DialoguePolicy(kit.script, {"name": "김민수"})
    policy.start()
    phrases = tuple(p for i in policy.grammar_intents() for p in kit.phrases(i))
    if FILLER_GRAMMAR:
        from dialer.conversation.turn_end import FILLERS
        phrases += tuple(sorted(FILLERS["ko"]))

    def hear(pcm: bytes) -> tuple[list[tuple[str, int]], float]:
        words = ReplyCompleteness(kit.script.language)
        frames = [InputAudio(pcm[i:i + FRAME_BYTES], (i // FRAME_BYTES + 1) * FRAME_MS / 1000)
                  for i in range(0, len(pcm), FRAME_BYTES)]
        cpu = time.process_time()
        down, _ = run_test([VadProcessor(RATE, FRAME_MS, cfg, words), AsrProcessor(asr), words],
                           [(Listen(phrases), UP), *frames])
        used = time.process_time() - cpu
        return [("start" if isinstance(f, UserStartedSpeaking) else "end", round(f.at * 1000))
                for f in down if isinstance(f, UserStartedSpeaking | UserStoppedSpeaking)], used
    return hear


def judge(item: Item, condition: str, events: Sequence[tuple[str, int]]) -> Outcome:
    start, end = item.start_ms, item.end_ms
    cut = next((t for e, t in events if e == "end" and start < t < end), None)
    latency = None
    before = [e for e, t in events if t < end]
    if cut is None and before and before[-1] == "start":  # still listening at the end
        latency = next((round(t - end) for e, t in events if e == "end" and t >= end), None)
    false_start = any(e == "start" and t < start for e, t in events)
    return Outcome(item, condition, cut, latency, false_start)


def _rate(flags: Sequence[bool]) -> float | None:
    return round(sum(flags) / len(flags), 3) if flags else None


def _pct(values: Sequence[int], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def summarise(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    paused = [o for o in outcomes if o.item.reply.kind == "paused"]
    complete = [o for o in outcomes if o.item.reply.kind == "complete"]
    latency = [o.latency_ms for o in complete if o.latency_ms is not None]
    latency_all = [o.latency_ms for o in outcomes if o.latency_ms is not None]
    return {
        "replies": len(outcomes),
        "false_cutoff_rate": _rate([o.cut_at_ms is not None for o in outcomes]),
        "false_cutoff_rate_paused": _rate([o.cut_at_ms is not None for o in paused]),
        "false_cutoff_rate_complete": _rate([o.cut_at_ms is not None for o in complete]),
        "reply_latency_p50_ms": _pct(latency, 50),
        "reply_latency_p95_ms": _pct(latency, 95),
        "reply_latency_p50_ms_all": _pct(latency_all, 50),
        "reply_latency_p95_ms_all": _pct(latency_all, 95),
        "missed_rate": _rate([o.missed for o in outcomes]),
        "noise_false_starts": sum(o.false_start for o in outcomes),
    }


def worst_cutoffs(outcomes: Sequence[Outcome], top: int = 20) -> list[dict[str, Any]]:
    """The cut-offs that left the most words unheard as the reply."""
    cut = sorted((o for o in outcomes if o.cut_at_ms is not None),
                 key=lambda o: o.item.end_ms - (o.cut_at_ms or 0), reverse=True)
    return [{"id": o.item.reply.id, "variant": o.item.variant, "condition": o.condition,
             "text": o.item.reply.text,
             "voice": f"{o.item.voice.name} -s {o.item.voice.rate} -p {o.item.voice.pitch}",
             "pauses_ms": list(o.item.pauses_ms), "gaps_ms": o.item.gaps_ms,
             "cut_after_ms": round((o.cut_at_ms or 0) - o.item.start_ms),
             "words_left_ms": round(o.item.end_ms - (o.cut_at_ms or 0))} for o in cut[:top]]


def vad_config(overrides: str | None, engine: str | None) -> VadConfig:
    """VadConfig with `--config`'s fields, and `--engine` when this VadConfig has one."""
    names = {f.name for f in dataclasses.fields(VadConfig)}
    try:
        fields = json.loads(overrides or "{}")
    except json.JSONDecodeError as exc:
        raise SystemExit(f"--config is not JSON ({exc})") from None
    if not isinstance(fields, dict):
        raise SystemExit("--config takes a JSON object of VadConfig fields, "
                         "e.g. '{\"end_silence_ms\": 800}'")
    unknown = sorted(set(fields) - names)
    if unknown:
        raise SystemExit(f"--config: VadConfig has no field {unknown[0]!r}; "
                         f"it has {', '.join(sorted(names))}")
    if engine is not None and "engine" in names:
        fields["engine"] = engine
    elif engine not in (None, "webrtc"):
        raise SystemExit(f"--engine {engine}: this voices.vad has WebRTC VAD only")
    try:
        return VadConfig(**fields)
    except (TypeError, ValueError) as exc:
        raise SystemExit(f"--config: {exc}") from None


def endpointers(cfg: VadConfig, wanted_turn: bool) -> tuple[Callable[[], Endpointer], bool]:
    """A maker of fresh endpointers with `cfg`, and the turn model (loaded once) when
    asked for and this Endpointer takes one."""
    kwargs: dict[str, Any] = {"sample_rate": RATE, "frame_ms": FRAME_MS, "config": cfg}
    if wanted_turn:
        if "turn" not in inspect.signature(Endpointer).parameters:
            raise SystemExit("--turn: this voices.vad.Endpointer takes no turn model; "
                             "run with --no-turn")
        try:
            kwargs["turn"] = importlib.import_module("voices.turn").TurnModel()
        except (ImportError, AttributeError, RuntimeError) as exc:  # model not installed
            raise SystemExit(f"--turn: no turn model to load ({exc})") from None
    return (lambda: Endpointer(**kwargs)), wanted_turn


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--set", type=Path, default=SET, help="the replies (YAML)")
    p.add_argument("--variants", type=int, default=2, help="renders per reply")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--config", help="VadConfig fields as JSON, e.g. '{\"end_silence_ms\": 800}'")
    p.add_argument("--engine", choices=("silero", "webrtc"),
                   help="VadConfig.engine (default: VadConfig's)")
    p.add_argument("--turn", action=argparse.BooleanOptionalAction, default=False,
                   help="end turns with the turn model (voices.turn.TurnModel)")
    p.add_argument("--words", action="store_true",
                   help="end turns with the words judge (recogniser + turn_end) instead")
    p.add_argument("--codec", choices=("none", "pcmu"), default="none",
                   help="pcmu: through G.711 mu-law at 8 kHz, as bench/asr_replies.py does")
    p.add_argument("--cache", type=Path, default=Path("/tmp/endpointing-cache"),
                   help="where espeak-ng renders are kept between runs")
    p.add_argument("--prosody", choices=("joined", "separate"), default="joined",
                   help="a paused reply said in one breath, or in stretches rendered apart")
    p.add_argument("--worst", type=int, default=20, help="false cut-offs to list")
    return p.parse_args()


def main() -> int:
    args = parse_args()
    cfg = vad_config(args.config, args.engine)
    make, used_turn = endpointers(cfg, args.turn)
    try:
        replies = load_replies(args.set)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    items = [render_item(r, v, args.seed, args.cache, args.prosody == "joined")
             for r in replies for v in range(args.variants)]
    print(f"rendered {len(items)} replies", file=sys.stderr, flush=True)
    beds = NoiseBeds(active_rms(b"".join(i.pcm for i in items), FRAME_BYTES) or 3000.0,
                     RATE, lambda: babble_speech(args.cache))
    outcomes: list[Outcome] = []
    hear = heard_by_words(cfg) if args.words else None
    cpu_s = audio_s = 0.0
    for name, kind, snr in CONDITIONS:
        noise = beds.for_call(kind, snr)
        for index, item in enumerate(items):
            pcm = heard(item.pcm, index, noise, args.codec)
            events, used = hear(pcm) if hear is not None else run(make, pcm)
            events = [(e, t - LISTEN_MS) for e, t in events]
            cpu_s, audio_s = cpu_s + used, audio_s + len(pcm) / 2 / RATE
            outcomes.append(judge(item, name, events))
        print(f"{name}: done", file=sys.stderr, flush=True)
    print(json.dumps({
        "bench": "endpointing", "set": str(args.set), "variants": args.variants,
        "seed": args.seed, "codec": args.codec, "prosody": args.prosody,
        "renders": len(items),
        "renders_paused": sum(i.reply.kind == "paused" for i in items),
        **summarise(outcomes),
        "by_condition": {name: summarise([o for o in outcomes if o.condition == name])
                         for name, _, _ in CONDITIONS},
        "cpu_ms_per_audio_s": round(cpu_s * 1000 / audio_s, 2),
        "config": {"vad": dataclasses.asdict(cfg), "engine": getattr(cfg, "engine", "webrtc"),
                   "turn_model": used_turn, "words_judge": args.words},
        "false_cutoffs_by_id": dict(Counter(o.item.reply.id for o in outcomes
                                            if o.cut_at_ms is not None).most_common()),
        "worst_false_cutoffs": worst_cutoffs(outcomes, args.worst),
    }, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
