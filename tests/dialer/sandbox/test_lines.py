"""The lines simulated callers are on (dialer/sandbox/phone_lines.py), their noise
(dialer/sandbox/noise.py) and how a simulated line mixes it into what it sends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dialer.sandbox.line import FRAME_SAMPLES
from dialer.sandbox.noise import KINDS, NoiseBeds, NoiseLoop, active_rms, generate, mix_at_snr
from dialer.sandbox.personas import PersonaError, load_lines, load_personas
from dialer.sandbox.phone_lines import LineError, LineSpec, parse_line
from dialer.telephony.media import FRAME_BYTES

RATE = 16000


@pytest.mark.parametrize(("word", "line"), [
    ("clean", LineSpec()),
    ("g722", LineSpec(codec="G722")),
    ("PCMU", LineSpec(codec="PCMU")),
    ("pcmu+street@15", LineSpec("PCMU", "street", 15.0)),
    ("pcma+babble@10+loss@2", LineSpec("PCMA", "babble", 10.0, 2.0)),
    ("car", LineSpec(noise="car", snr_db=15.0)),
    ("white@-3", LineSpec(noise="white", snr_db=-3.0)),
])
def test_lines_are_read_from_one_word_and_named_back(word: str, line: LineSpec) -> None:
    assert parse_line(word) == line
    assert parse_line(line.name) == line


def test_a_line_from_yaml() -> None:
    assert parse_line({"codec": "pcma", "noise": "babble", "snr_db": 10, "loss_pct": 2}) == \
        LineSpec("PCMA", "babble", 10.0, 2.0)
    assert LineSpec("PCMU").codecs() == ("PCMU/8000",) and LineSpec().codecs() is None


@pytest.mark.parametrize(("raw", "message"), [
    ("opus", "'opus' in 'opus' is neither a codec"),
    ("pcmu+street@loud", "street@'loud' needs a number"),
    ("pcmu+street@99", "snr_db 99.0 must be a number from -5 to 60"),
    ("loss@60", "loss_pct 60.0 must be a number from 0 to 50"),
    ("loss@1.5", "loss_pct 1.5 must be a whole percent"),
    ({"codec": "GSM"}, "codec 'GSM' is not one the simulator has"),
    ({"noise": "rain"}, "noise 'rain' is no noise kind"),
    ({"noise": "car", "snr": 3}, "unknown key 'snr'"),
    ({"snr_db": True}, "snr_db True must be a number"),
    (7, "7 is no line"),
])
def test_a_line_that_makes_no_sense_is_refused(raw: object, message: str) -> None:
    with pytest.raises(LineError) as err:
        parse_line(raw, "x.yml: lines[0]")
    assert str(err.value).startswith("x.yml: lines[0]: ") and message in str(err.value)


@pytest.mark.parametrize("kind", KINDS)
def test_noise_beds_have_unit_level_and_are_set_to_an_snr(kind: str) -> None:
    speech = [np.sin(np.arange(8000) / 7.0) * 3000.0] if kind == "babble" else None
    bed = generate(kind, RATE, seed=1, speech=speech, seconds=3.0)
    assert len(bed) == 3 * RATE
    assert np.sqrt(np.mean(bed ** 2)) == pytest.approx(1.0, rel=1e-6)
    scaled = mix_at_snr(bed, 3000.0, 15.0)
    level = float(np.sqrt(np.mean(scaled ** 2)))
    assert 20 * np.log10(3000.0 / level) == pytest.approx(15.0, abs=1e-6)


def test_noise_kinds_sound_different() -> None:
    """Car noise lives low in the spectrum, white noise everywhere."""
    def low_share(x: np.ndarray) -> float:
        power = np.abs(np.fft.rfft(x)) ** 2
        freqs = np.fft.rfftfreq(len(x), 1 / RATE)
        return float(power[freqs < 500].sum() / power.sum())

    assert low_share(generate("car", RATE, seconds=2.0)) > 0.8
    assert low_share(generate("white", RATE, seconds=2.0)) < 0.1
    with pytest.raises(ValueError, match="babble needs rendered speech"):
        generate("babble", RATE, seconds=1.0)


def test_active_rms_ignores_the_quiet_frames() -> None:
    loud = (np.sin(np.arange(FRAME_SAMPLES * 10) / 5.0) * 4000).astype("<i2")
    pcm = loud.tobytes() + bytes(FRAME_BYTES * 30)
    assert active_rms(pcm, FRAME_BYTES) == pytest.approx(4000 / np.sqrt(2), rel=0.02)
    assert active_rms(bytes(FRAME_BYTES * 3), FRAME_BYTES) == 0.0


def test_noise_goes_under_speech_and_silence_frame_by_frame() -> None:
    beds = NoiseBeds(3000.0, RATE, list)
    noise = beds.for_call("white", 20.0)
    assert noise is not None and beds.for_call(None, 20.0) is None
    loop = NoiseLoop(noise, FRAME_SAMPLES, start=len(noise) - 5)  # wraps round the end
    quiet = loop.under(None)  # between words: the street is still there
    assert len(quiet) == FRAME_BYTES
    expected = np.concatenate([noise[-5:], noise[:FRAME_SAMPLES - 5]])
    assert np.array_equal(np.frombuffer(quiet, "<i2"), np.clip(expected, -32768, 32767)
                          .astype("<i2"))
    level = np.sqrt(np.mean(np.frombuffer(quiet, "<i2").astype(float) ** 2))
    assert 150 < level < 600  # 3000 / 10 ** (20 / 20) = 300
    speech = (np.ones(FRAME_SAMPLES) * 1000).astype("<i2").tobytes()
    mixed = np.frombuffer(loop.under(speech), "<i2").astype(float)
    assert abs(mixed.mean() - 1000) < 200 and mixed.std() > 100
    loud = (np.ones(FRAME_SAMPLES) * 32000).astype("<i2").tobytes()
    assert np.frombuffer(loop.under(loud), "<i2").max() <= 32767  # clipped, not wrapped
    with pytest.raises(ValueError, match="shorter than a frame"):
        NoiseLoop(np.zeros(10), FRAME_SAMPLES)


def personas(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "personas.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_personas_name_their_lines_and_their_own_noise(tmp_path: Path) -> None:
    path = personas(tmp_path, """\
lines: [g722, pcmu, pcmu+street@15, {codec: PCMA, noise: babble, snr_db: 10, loss_pct: 2}]
personas:
  - {name: bar, number: "1", noise: babble@5}
  - {name: home, number: "2", noise: none}
  - {name: street, number: "3", noise: {kind: street, snr_db: 12}}
  - {name: plain, number: "4"}
""")
    assert [x.name for x in load_lines(path)] == ["g722", "pcmu", "pcmu+street@15",
                                                  "pcma+babble@10+loss@2"]
    cast = load_personas(path)
    assert cast["1"].noise == ("babble", 5.0) and cast["2"].noise == (None, 0.0)
    assert cast["3"].noise == ("street", 12.0) and cast["4"].noise is None
    assert load_lines(personas(tmp_path, "personas: [{name: a, number: '1'}]\n")) == [LineSpec()]


@pytest.mark.parametrize(("text", "message"), [
    ("lines: pcmu\npersonas: [{name: a, number: '1'}]", "lines must be a list of lines"),
    ("lines: [pcmu, gsm]\npersonas: [{name: a, number: '1'}]", "lines[1]: 'gsm' in 'gsm'"),
    ("personas: [{name: a, number: '1', noise: pcmu+car@10}]",
     "persona 'a': noise 'pcmu+car@10' must be a noise such as street@15"),
    ("personas: [{name: a, number: '1', noise: {kind: rain}}]",
     "persona 'a': noise: noise 'rain' is no noise kind"),
])
def test_line_mistakes_in_a_personas_file_are_named(tmp_path: Path, text: str,
                                                    message: str) -> None:
    path = personas(tmp_path, text + "\n")
    with pytest.raises(PersonaError) as err:
        load_lines(path)
        load_personas(path)
    assert str(err.value).startswith(str(path)) and message in str(err.value)


def test_a_reply_with_hesitations_is_spoken_in_stretches_with_pauses(tmp_path: Path) -> None:
    from dialer.sandbox.caller_voice import CallerVoice, render, segments, with_pauses

    assert segments("음… 그게... 얼마라고요") == ["음", "그게", "얼마라고요"]
    assert segments("네 좋아요") == ["네 좋아요"]
    fast, slow = CallerVoice("ko+f3", rate=300, pitch=70), CallerVoice("ko", rate=120)
    quick = render(fast, "가격이 얼마에요", RATE, tmp_path)
    assert (tmp_path / next(p.name for p in tmp_path.iterdir())).read_bytes() == quick
    assert len(render(slow, "가격이 얼마에요", RATE, None)) > 1.5 * len(quick)
    parts = [render(fast, s, RATE, tmp_path) for s in segments("음… 얼마라고요")]
    spoken = with_pauses(parts, 700, RATE)
    assert len(spoken) == sum(map(len, parts)) + 700 * RATE // 1000 * 2
    # In one breath: the pause is inside the utterance, as long as asked.
    import numpy as np

    whole = {ms: np.frombuffer(render(fast, "음… 얼마라고요", RATE, tmp_path, ms), "<i2")
             for ms in (0, 900)}
    assert 0.8 < (len(whole[900]) - len(whole[0])) / RATE < 1.0

    def longest_quiet(x: np.ndarray) -> int:
        return max(len(run) for run in "".join("q" if abs(v) < 100 else "s"
                                               for v in x).split("s"))

    assert longest_quiet(whole[900]) >= 0.7 * RATE > 2 * longest_quiet(whole[0])
    with pytest.raises(RuntimeError):
        render(CallerVoice("xx-nonexistent"), "a", RATE, None, 300)


def test_a_persona_has_its_own_voice_and_pace(tmp_path: Path) -> None:
    from dialer.sandbox.caller_voice import CallerVoice

    cast = load_personas(personas(tmp_path, """\
personas:
  - {name: fast, number: "1", voice: {name: ko+f3, rate: 260, pitch: 70}, pause_ms: 900}
  - {name: plain, number: "2", voice: ko}
"""))
    assert cast["1"].voice == CallerVoice("ko+f3", 260, 70) and cast["1"].pause_ms == 900
    assert cast["2"].voice == CallerVoice("ko") and cast["2"].pause_ms == 600
