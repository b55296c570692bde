"""How well answering-machine detection tells who answered, offline (no SIP).

Each opening of bench/data/amd/openings.yml (a person's hello, a long greeting, silence,
a recorded greeting with or without a beep, a call-screening assistant) is rendered
(people in espeak-ng voices of their own, machines in one steady voice), put through a
line (codec, noise) and fed in 20 ms frames of 16 kHz PCM, stamped at their times after
the answer, through the AMD part of a real call's pipeline for the demo campaign with
answering-machine detection on (dialer/call/session.py): VAD -> AmdProcessor -> barge-in
-> vosk with the policy's grammar -> AmdKeywords -> NLU -> policy. The line goes on
carrying its quiet (or noise) after the opening, as a real one does, until the first
verdict (AmdResult) or 10 s. Prints JSON: accuracy (the verdict expected), action
accuracy (the robot talks vs. leaves a message), decision times, by kind, the misses.

    .venv/bin/python bench/amd.py [--line g722|pcmu|pcmu+street@15] [--only KIND]
        [--config '{"max_human_speech_s": 3.0}'] [--repeats 2] [--cache DIR]

Renders are cached under --cache (default $DIALER_PROMPT_CACHE, else /tmp).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import zlib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._openings import (
    EXPECTED,
    KINDS,
    MACHINE_KINDS,
    Opening,
    OpeningError,
    action,
    load_openings,
)
from bench.asr_replies import line as through_codec
from dialer.call.runtime import warm_open_vocabulary
from dialer.call.session import SessionConfig
from dialer.conversation.amd import AmdConfig, AmdKeywords, AmdProcessor
from dialer.conversation.frames import AmdResult, Frame, InputAudio, ParseResult, StartFrame
from dialer.conversation.kit import CampaignKit, load_kit
from dialer.conversation.pipeline import Pipeline
from dialer.conversation.policy import DialoguePolicy, ResilientParser
from dialer.conversation.processors import (
    AsrProcessor,
    BargeInProcessor,
    NluProcessor,
    PolicyProcessor,
    VadProcessor,
)
from dialer.conversation.script import AnsweringMachine
from dialer.sandbox import caller_voice, noise
from dialer.sandbox.phone_lines import LineError, LineSpec, parse_line
from dialer.telephony.media import CLOCK_RATE, FRAME_BYTES, FRAME_MS
from voices.asr import VoskAsr, load_model, resolve_model_path
from voices.audio import silence, tone
from voices.settings import VoiceSettings
from voices.tts import Pyttsx3Tts
from voices.vad import VadConfig

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

C = TypeVar("C", bound="DataclassInstance")
DEMO = ROOT / "campaigns" / "examples" / "demo"
OPENINGS = ROOT / "bench" / "data" / "amd" / "openings.yml"
MAX_S = 10.0  # no verdict by then: reported as none
ANSWERED_AT = 1000.0  # the call's clock at the answer (any monotonic origin)
MACHINE_VOICE = ("ko", 175)  # the simulator's answering machines speak so
# As bench/lines.py runs the demo on real lines: a machine gets a message.
DEMO_AMD = AnsweringMachine(on_machine="voicemail", voicemail=(
    "{name} 고객님, 행복통신입니다. 새 요금제 안내로 다시 연락드리겠습니다."))


def campaign_kit() -> tuple[CampaignKit, str]:
    """The demo campaign with answering-machine detection on: its own `answering_machine:`
    when the script has one, else the one bench/lines.py adds."""
    kit = load_kit(DEMO)
    if kit.script.answering_machine is not None:
        return kit, "script.yml"
    kit.script = replace(kit.script, answering_machine=DEMO_AMD)
    return kit, "bench (on_machine: voicemail, the script's defaults)"


def overridden(config: C, flag: str, raw: str) -> C:
    """`config` with the fields a command-line JSON object sets."""
    try:
        overrides = json.loads(raw)
        assert isinstance(overrides, dict)
    except (ValueError, AssertionError):
        raise SystemExit(f"{flag} {raw!r}: write a JSON object, e.g. "
                         '\'{"max_human_speech_s": 3.0}\'') from None
    known = {f.name for f in fields(config)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise SystemExit(f"{flag}: {unknown[0]!r} is no {type(config).__name__} field; "
                         f"one of {', '.join(sorted(known))}")
    try:
        return replace(config, **overrides)
    except (TypeError, ValueError) as exc:
        raise SystemExit(f"{flag}: {exc}") from None


def amd_config(kit: CampaignKit, raw: str) -> AmdConfig:
    """As the call session makes it from the script, then the bench's overrides."""
    am = kit.script.answering_machine
    assert am is not None
    return overridden(AmdConfig(max_human_speech_s=am.max_human_speech_s,
                                initial_silence_s=am.initial_silence_s), "--config", raw)


@dataclass(frozen=True)
class Hearing:
    """What a call hears with: the recogniser, the campaign, the VAD's and AMD's settings
    and whether the line is narrowband."""

    kit: CampaignKit
    asr: VoskAsr
    amd: AmdConfig
    vad: VadConfig
    narrowband: bool


def chain(h: Hearing, seen: list[Frame]) -> Pipeline:
    """The processors of dialer/call/session.py that hear a call's first seconds, in its
    order and with its settings (the echo guard is left out: the robot has said nothing
    yet); what leaves the policy is collected in `seen`."""
    kit, am, session = h.kit, h.kit.script.answering_machine, SessionConfig()
    assert am is not None
    return Pipeline([
        VadProcessor(CLOCK_RATE, FRAME_MS, h.vad),
        AmdProcessor(h.amd, CLOCK_RATE, FRAME_MS),
        BargeInProcessor(session.barge_in_min_ms, FRAME_MS),
        AsrProcessor(h.asr, early_final_ms=session.asr_early_final_ms,
                     narrowband=lambda: h.narrowband),
        AmdKeywords(am.machine_words(kit.script.language)),
        NluProcessor(ResilientParser(kit.nlu).parse),
        PolicyProcessor(DialoguePolicy(kit.script, {"name": "김민수"}), kit.phrases,
                        kit.script.settings.no_input_timeout_s, detect_machines=True),
    ], on_down=seen.append)


def _trimmed(pcm: bytes, floor: int = 64) -> bytes:
    """Without the synthesizer's own quiet at both ends, so that leads and gaps are exact."""
    x = np.frombuffer(pcm, dtype="<i2")
    loud = np.flatnonzero(np.abs(x) > floor)
    return x[loud[0]:loud[-1] + 1].tobytes() if loud.size else b""


class Renderer:
    """What each opening says, as 16 kHz PCM from its first word (beep included)."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        self.machine = Pyttsx3Tts(MACHINE_VOICE[0], rate=MACHINE_VOICE[1], cache_dir=cache)

    def speech(self, op: Opening) -> bytes:
        if not op.text:
            return b""
        voice = op.voice
        parts = [_trimmed(self.machine.synthesize(s, CLOCK_RATE) if voice is None
                          else caller_voice.render(voice, s, CLOCK_RATE, self.cache))
                 for s in caller_voice.segments(op.text)]
        pcm = caller_voice.with_pauses(parts, op.pause_ms, CLOCK_RATE)
        if op.beep is not None:
            pcm += silence(int(op.beep.gap_s * 1000), CLOCK_RATE) \
                + tone(op.beep.hz, op.beep.ms, CLOCK_RATE)
        return pcm


class Line:
    """The callee's side of the line: their noise mixed in (at the line's SNR against the
    set's speech level, as the simulator does), then the codec. On G.711 the robot gets
    the 8 kHz audio resampled to 16 kHz; its recogniser extends the band itself."""

    def __init__(self, spec: LineSpec, speech: list[bytes]) -> None:
        self.spec = spec
        self.narrowband = spec.codec in ("PCMU", "PCMA")
        said = [s for s in speech if s]
        self.speech_rms = noise.active_rms(b"".join(said), FRAME_BYTES) or 3000.0
        self._said = [np.frombuffer(s, dtype="<i2").astype(np.float64) for s in said]
        self._beds: dict[str, np.ndarray] = {}

    def _bed(self, kind: str) -> np.ndarray:
        if kind not in self._beds:
            self._beds[kind] = noise.generate(kind, CLOCK_RATE, seed=len(self._beds),
                                              speech=self._said if kind == "babble" else None)
        return self._beds[kind]

    def heard(self, op: Opening, pcm: bytes, seed: int) -> bytes:
        kind, snr = op.noise if op.noise is not None else (self.spec.noise, self.spec.snr_db)
        if kind is not None:
            bed = noise.mix_at_snr(self._bed(kind), self.speech_rms, snr)
            start = int(np.random.default_rng(seed).integers(len(bed)))
            x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
            x = x + np.resize(np.roll(bed, -start), x.size)
            pcm = np.clip(x, -32768, 32767).astype("<i2").tobytes()
        codec = "pcmu" if self.narrowband else "g722"
        return bytes(through_codec(pcm, codec, 7000, extend=False))


@dataclass
class Verdict:
    id: str
    kind: str
    repeat: int
    got: str | None
    reason: str
    at_s: float | None
    heard: list[str]

    @property
    def correct(self) -> bool:
        return self.got == EXPECTED[self.kind]


def timeline(op: Opening, speech: bytes, repeat: int) -> bytes:
    """The callee's side from the answer for MAX_S: quiet, the opening, quiet again (a
    line carries frames whether anyone speaks or not). A repeat starts 70 ms later."""
    lead = silence(round((op.lead_s + 0.07 * repeat) * 1000), CLOCK_RATE) if speech \
        else b""
    size = int(MAX_S * 1000 / FRAME_MS) * FRAME_BYTES
    return (lead + speech)[:size].ljust(size, b"\x00")


def listen(pipeline: Pipeline, seen: list[Frame], pcm: bytes) -> AmdResult | None:
    """The answer, then the line's frames at their times until the first verdict."""
    pipeline.push(StartFrame(ANSWERED_AT))
    for i in range(len(pcm) // FRAME_BYTES):
        # A frame is stamped when it has arrived: at the end of the 20 ms it carries.
        at = ANSWERED_AT + (i + 1) * FRAME_MS / 1000
        pipeline.push(InputAudio(pcm[i * FRAME_BYTES:(i + 1) * FRAME_BYTES], at))
        for frame in seen:
            if isinstance(frame, AmdResult):
                return frame
    return None


def percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def report(verdicts: list[Verdict], cpu_s: float, config: dict[str, Any]) -> dict[str, Any]:
    n = len(verdicts)
    times = [v.at_s for v in verdicts if v.at_s is not None]
    by_kind: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        mine = [v for v in verdicts if v.kind == kind]
        if mine:
            right = sum(v.correct for v in mine)
            by_kind[kind] = {
                "n": len(mine), "correct": right, "accuracy": round(right / len(mine), 3),
                "decision_p50_s": percentile([v.at_s for v in mine if v.at_s is not None], 50),
                "got": {str(g): sum(v.got == g for v in mine)
                        for g in sorted({str(v.got) for v in mine})}}
    wrong = [{"id": v.id, "kind": v.kind, "got": v.got, "reason": v.reason, "at_s": v.at_s,
              "heard": v.heard, **({"repeat": v.repeat} if v.repeat else {})}
             for v in verdicts if not v.correct]
    return {
        "bench": "amd", "openings": n,
        "accuracy": round(sum(v.correct for v in verdicts) / n, 3),
        "action_accuracy": round(sum(action(v.got) == action(EXPECTED[v.kind])
                                     for v in verdicts) / n, 3),
        "decision_p50_s": percentile(times, 50), "decision_p95_s": percentile(times, 95),
        "by_kind": by_kind, "wrong": wrong,
        "cpu_s_per_opening": round(cpu_s / n, 3), "config": config,
    }


def cache_dir(explicit: str | None) -> Path:
    path = Path(explicit or os.environ.get("DIALER_PROMPT_CACHE")
                or Path("/tmp") / "dialer-bench-cache")
    (path / "amd").mkdir(parents=True, exist_ok=True)
    return path / "amd"


def arguments() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--line", default="g722",
                   help="codec and noise: g722 (clean, default), pcmu, pcmu+street@15, ...")
    p.add_argument("--only", choices=KINDS, help="only the openings of this kind")
    p.add_argument("--config", default="{}", help="AmdConfig fields to override, as JSON")
    p.add_argument("--vad", default="{}",
                   help='VadConfig fields to override, as JSON (e.g. \'{"engine": "webrtc"}\')')
    p.add_argument("--repeats", type=int, default=1,
                   help="runs per opening; each later one 70 ms later, its noise elsewhere")
    p.add_argument("--openings", default=str(OPENINGS), help="the openings file")
    p.add_argument("--cache", help="where renders are cached (default $DIALER_PROMPT_CACHE "
                                   "or /tmp/dialer-bench-cache)")
    return p.parse_args()


def main() -> int:
    args = arguments()
    try:
        spec = parse_line(args.line, "--line")
    except LineError as exc:
        raise SystemExit(str(exc)) from None
    if spec.loss_pct:
        raise SystemExit("--line: packet loss is not simulated offline; bench/lines.py "
                         "runs lines with loss over SIP")
    if args.repeats < 1:
        raise SystemExit("--repeats must be 1 or more")
    try:
        everyone = load_openings(args.openings)
    except (OpeningError, OSError) as exc:
        raise SystemExit(str(exc)) from None
    print("training the demo's NLU, loading vosk, rendering...", file=sys.stderr, flush=True)
    kit, amd_from = campaign_kit()
    config = amd_config(kit, args.config)
    vad = overridden(SessionConfig().vad, "--vad", args.vad)
    voices = VoiceSettings()
    model = load_model(resolve_model_path(voices.vosk_model or None, kit.script.language))
    warm_open_vocabulary(model, voices)  # as the worker does before its calls
    asr = VoskAsr(model, grammar_min_confidence=voices.asr_grammar_min_confidence)
    renderer = Renderer(cache_dir(args.cache))
    said = {o.id: renderer.speech(o) for o in everyone}
    # The noise level is set against the people's speech of the whole set, --only or not.
    line = Line(spec, [said[o.id] for o in everyone if o.kind not in MACHINE_KINDS])
    openings = [o for o in everyone if args.only in (None, o.kind)]
    verdicts, cpu = run(openings, said, line, args.repeats,
                        Hearing(kit, asr, config, vad, line.narrowband))
    setup = {"line": spec.name, "campaign": str(DEMO.relative_to(ROOT)),
             "answering_machine": amd_from, "amd": asdict(config),
             "vad": asdict(vad), "machine_voice": MACHINE_VOICE,
             "repeats": args.repeats, "max_s": MAX_S, "only": args.only,
             "speech_rms": round(line.speech_rms)}
    print(json.dumps(report(verdicts, cpu, setup), ensure_ascii=False, indent=1))
    return 0


def run(openings: list[Opening], said: dict[str, bytes], line: Line, repeats: int,
        hearing: Hearing) -> tuple[list[Verdict], float]:
    """Every opening `repeats` times, each through a fresh pipeline; progress on stderr.
    Returns the verdicts and the CPU seconds spent hearing them (rendering left out)."""
    verdicts: list[Verdict] = []
    cpu = 0.0
    for repeat in range(repeats):
        for n, op in enumerate(openings, 1):
            pcm = line.heard(op, timeline(op, said[op.id], repeat),
                             seed=zlib.crc32(f"{op.id}/{repeat}".encode()))
            seen: list[Frame] = []
            t = time.process_time()
            result = listen(chain(hearing, seen), seen, pcm)
            cpu += time.process_time() - t
            heard = [f.text for f in seen if isinstance(f, ParseResult)]
            verdicts.append(Verdict(
                op.id, op.kind, repeat, result.kind if result else None,
                result.reason if result else f"no verdict in {MAX_S:.0f}s",
                round(result.at - ANSWERED_AT, 3) if result else None, heard))
            v = verdicts[-1]
            print(f"[{repeat + 1}/{repeats} {n}/{len(openings)}] {op.id} {op.kind}: {v.got} "
                  f"at {v.at_s}s ({v.reason}){'' if v.correct else '  WRONG'}",
                  file=sys.stderr, flush=True)
    return verdicts, cpu


if __name__ == "__main__":
    raise SystemExit(main())
