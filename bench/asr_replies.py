"""How reliably the robot understands the demo personas' replies, offline.

Walks each persona's conversation through the real dialogue policy: every reply is
spoken by espeak-ng (as the simulator does), decoded by vosk with the grammar of the node
where it is said (plus the open-vocabulary pass when the grammar pass is weak), and
understood by the campaign's NLU. Repeated over several renders and leading silences.
Compares how the reading is chosen: by ASR confidence alone (before) or by ASR x NLU
confidence (`dialer.conversation.readings.understand`, now). Prints JSON.

    .venv/bin/python bench/asr_replies.py [--repeats 4]
    .venv/bin/python bench/asr_replies.py --paraphrases     # the held-out replies, spoken
    .venv/bin/python bench/asr_replies.py --codec pcmu [--no-extend]   # over G.711
    .venv/bin/python bench/asr_replies.py --codec pcmu --noise babble@10   # and noise

--noise mixes the simulator's noise bed of that kind under each reply, at that SNR
against the reply's active level, before the codec: what the recogniser can make of the
line's audio with no packet lost (bench/lines.py adds loss over real SIP), so an upper
bound for the conversations on that line.

With --paraphrases, the Korean held-out set of bench/nlu.py (callees' own words, written
without reading the demo's nlu.yml, out-of-scope remarks included) is spoken at the
greeting, decoded with that node's grammar and understood: the share understood as
labelled (out-of-scope: not understood, the robot asks again), and the share read as a
wrong intent with NLU confidence >= 0.8 (acted on without a second thought).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dialer.conversation.kit import load_kit
from dialer.conversation.policy import DialoguePolicy, Understanding, scoped_parser
from dialer.conversation.readings import understand
from dialer.sandbox.personas import load_personas
from voices.asr import AsrResult, VoskAsr, load_model, resolve_model_path
from voices.audio import silence
from voices.bandwidth import BandwidthExtender
from voices.tts import Pyttsx3Tts

DEMO = ROOT / "campaigns" / "examples" / "demo"
PARAPHRASES = ROOT / "bench" / "data" / "ko_demo_heldout" / "test.yml"
RATE = 16000
CONFIDENT = 0.8
FILLERS = "--fillers" in sys.argv


def hesitations(language: str) -> list[str]:
    """What the robot adds to every grammar: the sounds of thinking ("음"); with
    --fillers, every filler the words judge of the turn's end reads."""
    from dialer.conversation.turn_end import hesitation_phrases, thinking_phrases

    return list(hesitation_phrases(language) if FILLERS else thinking_phrases(language))


def band_limit(pcm: bytes, hz: float) -> bytes:
    """What a G.722 call keeps of the audio: nothing above ~7 kHz."""
    import numpy as np

    x = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    spectrum = np.fft.rfft(x)
    spectrum[np.fft.rfftfreq(len(x), 1 / RATE) > hz] = 0
    return np.clip(np.fft.irfft(spectrum, len(x)), -32768, 32767).astype(np.int16).tobytes()


def mulaw(x: Any) -> Any:
    """G.711 mu-law: 8-bit logarithmic quantisation of samples in [-1, 1] (PCMA's
    A-law differs little in effect)."""
    import numpy as np

    mu = 255.0
    y = np.round(np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu) * 127) / 127
    return np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu


def line(pcm: bytes, codec: str, band_hz: float, extend: bool) -> bytes:
    """The caller's audio as the robot gets it: G.722 keeps up to ~7 kHz; G.711 is
    resampled to 8 kHz, companded and resampled back to the call's 16 kHz (as pjmedia's
    bridge does), then bandwidth-extended as the robot does on narrowband calls."""
    if codec == "g722":
        return band_limit(pcm, band_hz) if band_hz else pcm
    import numpy as np
    from scipy.signal import resample_poly

    x = np.frombuffer(pcm, dtype=np.int16).astype(np.float64) / 32768
    narrow = mulaw(np.clip(resample_poly(x, 1, 2), -1.0, 1.0))
    wide = np.clip(resample_poly(narrow, 2, 1) * 32768, -32768, 32767).astype(np.int16)
    out = wide.tobytes()
    return BandwidthExtender(RATE).process(out) if extend else out


def with_noise(spec: str) -> Callable[[bytes], bytes]:
    """Mixes a noise bed (`KIND@SNR`, as a dry-run line spells it) under each reply, at
    SNR dB below the reply's active level, from a different place in the bed each time;
    babble is made of the background remarks the simulator's babble uses."""
    import numpy as np

    from dialer.sandbox import noise
    from dialer.sandbox.phone_lines import LineError, parse_line
    from nlu.background import remarks

    try:
        spec_line = parse_line(spec, "--noise")
    except LineError as e:
        raise SystemExit(str(e)) from None
    if spec_line.noise is None or spec_line.codec or spec_line.loss_pct:
        raise SystemExit(f"--noise {spec!r}: only a noise, e.g. street@15 (the codec is "
                         "--codec; loss is simulated over SIP by bench/lines.py)")
    kind, snr = spec_line.noise, spec_line.snr_db
    tts = Pyttsx3Tts("ko", rate=175)
    talk = remarks("ko")
    bed = noise.generate(kind, RATE, seed=7, speech=[
        np.frombuffer(tts.synthesize(t, RATE), dtype="<i2").astype(np.float64)
        for t in talk[::max(1, len(talk) // 12)][:12]] if kind == "babble" else None)
    rng = np.random.default_rng(11)

    def mix(pcm: bytes) -> bytes:
        level = noise.active_rms(pcm, 640) or 3000.0
        x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
        start = int(rng.integers(len(bed)))
        x = x + np.resize(np.roll(noise.mix_at_snr(bed, level, snr), -start), x.size)
        return np.clip(x, -32768, 32767).astype("<i2").tobytes()

    return mix


def by_asr_confidence(result: AsrResult) -> AsrResult:
    """The rule before: the grammar reading, or the open-vocabulary one (the only other
    reading there was) when its ASR confidence is higher."""
    best = result
    for alt in result.alternatives:
        if not alt.grammar and alt.text and alt.confidence > best.confidence:
            best = alt
    return best


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=4, help="renders per reply and lead")
    p.add_argument("--band-hz", type=float, default=7000,
                   help="keep only frequencies below this, as G.722 does (0: full band)")
    p.add_argument("--fillers", action="store_true",
                   help="the grammar also holds the language's hesitation words (음, 어, 그게)")
    p.add_argument("--paraphrases", action="store_true",
                   help="speak the held-out paraphrase set instead of the personas' replies")
    p.add_argument("--codec", choices=("g722", "pcmu"), default="g722",
                   help="the call's codec: pcmu is G.711's telephone band")
    p.add_argument("--no-extend", action="store_true",
                   help="on pcmu, leave out the bandwidth extension the robot applies")
    p.add_argument("--noise", default="", metavar="KIND@SNR",
                   help="the callee's background, e.g. street@15 or babble@10")
    args = p.parse_args()
    noisy = with_noise(args.noise) if args.noise else (lambda pcm: pcm)
    heard = (lambda pcm: line(noisy(pcm), args.codec, args.band_hz, not args.no_extend))
    setup = {"codec": args.codec, "band_hz": args.band_hz if args.codec == "g722" else 4000,
             "bandwidth_extension": args.codec != "g722" and not args.no_extend,
             "noise": args.noise or None}
    if args.paraphrases:
        print(json.dumps({**paraphrases(args.repeats, heard), **setup}, ensure_ascii=False,
                         indent=1))
        return 0

    kit = load_kit(DEMO)
    asr = VoskAsr(load_model(resolve_model_path(None, "ko")))
    tts = Pyttsx3Tts("ko", rate=175)  # the simulator's voice
    leads_ms = (0, 150, 300)
    counts = {"before": [0, 0], "now": [0, 0]}
    misses: list[dict[str, object]] = []
    decode_ms: list[float] = []
    for persona in load_personas(DEMO / "personas.yml").values():
        policy = DialoguePolicy(kit.script, {"name": "김민수"})
        policy.start()
        for reply in persona.replies:
            if reply.kind != "say":
                break
            expected = kit.nlu.parse(reply.text)["intent"]["name"]
            phrases = [x for i in policy.grammar_intents() for x in kit.phrases(i)]
            phrases += hesitations(kit.script.language)
            grammar = asr.grammar(phrases)
            for lead in leads_ms:
                for _ in range(args.repeats):
                    pcm = silence(lead, RATE) + tts.synthesize(reply.text, RATE) \
                        + silence(700, RATE)
                    pcm = heard(pcm)
                    t = time.perf_counter()
                    result = asr.decode(pcm, grammar)
                    decode_ms.append((time.perf_counter() - t) * 1000)
                    old = by_asr_confidence(result)
                    old_intent = kit.nlu.parse(old.text)["intent"]["name"] if old.text \
                        else "nlu_fallback"
                    new, new_intent, _ = understand(result.hypotheses(), scoped_parser(kit.nlu),
                                                    frozenset(grammar))
                    for rule, intent, text in (("before", old_intent, old.text),
                                               ("now", new_intent, new.text)):
                        counts[rule][0] += intent == expected
                        counts[rule][1] += 1
                        if intent != expected:
                            misses.append({"rule": rule, "persona": persona.name,
                                           "node": policy.node, "said": reply.text,
                                           "heard": text, "intent": intent,
                                           "expected": expected, "lead_ms": lead})
            policy.on_reply(Understanding(reply.text, expected, 1.0, 1.0))
    print(json.dumps({
        "bench": "asr_replies", "repeats": args.repeats, "leads_ms": leads_ms, **setup,
        "accuracy_before": round(counts["before"][0] / counts["before"][1], 3),
        "accuracy_now": round(counts["now"][0] / counts["now"][1], 3),
        "utterances": counts["now"][1],
        "decode_ms_mean": round(sum(decode_ms) / len(decode_ms), 1),
        "misses": misses,
    }, ensure_ascii=False, indent=1))
    return 0


def paraphrases(repeats: int, heard: Callable[[bytes], bytes]) -> dict[str, object]:
    """The held-out replies spoken at the greeting: understood, and confidently wrong."""
    from nlu.evaluation import OUT_OF_SCOPE_NAMES
    from nlu.training_data import load_training_data

    kit = load_kit(DEMO)
    asr = VoskAsr(load_model(resolve_model_path(None, "ko")))
    tts = Pyttsx3Tts("ko", rate=175)
    policy = DialoguePolicy(kit.script, {"name": "김민수"})
    policy.start()
    grammar = asr.grammar([x for i in policy.grammar_intents() for x in kit.phrases(i)]
                          + hesitations(kit.script.language))
    parse = scoped_parser(kit.nlu)
    tally = {"in_scope": [0, 0, 0], "out_of_scope": [0, 0, 0]}  # understood, wrong sure, n
    misses: list[dict[str, object]] = []
    decode_ms: list[float] = []
    cpu = time.process_time()
    for ex in load_training_data(PARAPHRASES).examples:
        oos = ex.intent in OUT_OF_SCOPE_NAMES
        expected = "nlu_fallback" if oos else ex.intent
        for _ in range(repeats):
            pcm = silence(150, RATE) + tts.synthesize(ex.text, RATE) + silence(700, RATE)
            pcm = heard(pcm)
            t = time.perf_counter()
            result = asr.decode(pcm, grammar)
            decode_ms.append((time.perf_counter() - t) * 1000)
            reading, intent, conf = understand(result.hypotheses(), parse, frozenset(grammar))
            row = tally["out_of_scope" if oos else "in_scope"]
            row[0] += intent == expected
            row[1] += intent not in (expected, "nlu_fallback") and conf >= CONFIDENT
            row[2] += 1
            if intent != expected:
                misses.append({"said": ex.text, "heard": reading.text, "intent": intent,
                               "confidence": round(conf, 3), "expected": expected})
    n = sum(r[2] for r in tally.values())
    return {
        "bench": "asr_replies", "set": str(PARAPHRASES.relative_to(ROOT)),
        "repeats": repeats, "utterances": n,
        "understood": round(sum(r[0] for r in tally.values()) / n, 3),
        "in_scope_understood": round(tally["in_scope"][0] / tally["in_scope"][2], 3),
        "out_of_scope_caught": round(tally["out_of_scope"][0] / tally["out_of_scope"][2], 3),
        "wrong_intent_confident_rate": round(sum(r[1] for r in tally.values()) / n, 3),
        "decode_ms_mean": round(sum(decode_ms) / len(decode_ms), 1),
        "cpu_ms_per_reply": round((time.process_time() - cpu) * 1000 / n, 1),
        "misses": misses,
    }


if __name__ == "__main__":
    raise SystemExit(main())
