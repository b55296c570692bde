"""The external-Rasa backend against real HTTP servers: our own Rasa-compatible server
(`python -m nlu serve`), a port nobody listens on, one that never answers, and one that
answers something else; and a campaign that names a Rasa server."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from dialer.conversation.kit import load_kit
from dialer.conversation.policy import ResilientParser
from dialer.conversation.script import ScriptError
from nlu.model import NluModel
from nlu.rasa_http import NluServerError, RasaHttpParser
from nlu.training_data import TrainingData, load_training_data
from tests.support.procs import DEMO, ROOT, dialer_cmd, free_udp_tcp_port, wait_for

TEXTS = ["네 관심 있어요", "담당자 연결 해 주세요", "오늘 날씨 어때요", "가격이 얼마에요"]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, NluModel]]:
    model_dir = tmp_path_factory.mktemp("rasa") / "model"
    NluModel.train(load_training_data(DEMO / "nlu.yml")).save(model_dir)
    port = free_udp_tcp_port()
    proc = subprocess.Popen([sys.executable, "-m", "nlu", "serve", "--model", str(model_dir),
                             "--port", str(port)], cwd=ROOT, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False

    try:
        wait_for(up, 30, "nlu serve", proc)
        yield url, NluModel.load(model_dir)
    finally:
        proc.terminate()
        proc.wait(10)


def test_answers_come_back_unchanged_from_the_server(served: tuple[str, NluModel]) -> None:
    url, local = served
    remote = RasaHttpParser(url)
    for text in TEXTS:
        got, want = remote.parse(text), local.parse(text)
        assert got["text"] == text and got["intent"]["name"] == want["intent"]["name"]
        assert got["intent"]["confidence"] == pytest.approx(want["intent"]["confidence"])
        assert [r["name"] for r in got["intent_ranking"]] == \
            [r["name"] for r in want["intent_ranking"]]


def test_server_down_is_a_clear_error_naming_the_url() -> None:
    port = free_udp_tcp_port()
    started = time.monotonic()
    with pytest.raises(NluServerError) as info:
        RasaHttpParser(f"http://127.0.0.1:{port}").parse("네")
    assert f"127.0.0.1:{port}" in str(info.value) and "not reachable" in str(info.value)
    assert time.monotonic() - started < 2


def test_silent_server_times_out() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(NluServerError) as info:
            RasaHttpParser(f"http://127.0.0.1:{port}", timeout_s=0.5).parse("네")
        assert "did not answer within 0.5s" in str(info.value)
        assert time.monotonic() - started < 3


def test_answer_that_is_not_a_parse_result_is_refused() -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.dumps({"version": "3.6"}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(NluServerError, match="not a /model/parse result"):
            RasaHttpParser(f"http://127.0.0.1:{server.server_port}").parse("네")
    finally:
        server.shutdown()


def campaign_with_rasa(tmp_path: Path, nlu_section: str) -> Path:
    d = tmp_path / "campaign"
    d.mkdir(exist_ok=True)
    shutil.copy(DEMO / "nlu.yml", d / "nlu.yml")
    (d / "script.yml").write_text(nlu_section + (DEMO / "script.yml").read_text("utf-8"),
                                  encoding="utf-8")
    return d


def test_campaign_uses_the_rasa_server_it_names(served: tuple[str, NluModel],
                                                tmp_path: Path) -> None:
    url, _ = served
    kit = load_kit(campaign_with_rasa(tmp_path, f"nlu: {{rasa_url: '{url}', timeout_s: 1}}\n"))
    assert isinstance(kit.nlu, RasaHttpParser) and kit.nlu.timeout_s == 1
    assert kit.nlu.parse("네 관심 있어요")["intent"]["name"] == "affirm"
    assert kit.phrases("affirm"), "nlu.yml still feeds the recogniser's grammar"


def test_campaign_create_refuses_a_rasa_server_that_is_down(tmp_path: Path) -> None:
    port = free_udp_tcp_port()
    script = campaign_with_rasa(tmp_path, f"nlu: {{rasa_url: 'http://127.0.0.1:{port}'}}\n")
    env = dict(os.environ, DIALER_DATA_DIR=str(tmp_path / "data"))
    proc = subprocess.run(dialer_cmd("campaign", "create", "--name", "x", "--script",
                                     str(script), "--csv", str(DEMO / "contacts.csv")),
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert f"127.0.0.1:{port}" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "data" / "dialer.db").exists(), "refused before anything is stored"


@pytest.mark.parametrize("section", ["nlu: {rasa_url: 'ftp://x'}\n", "nlu: [1]\n",
                                     "nlu: {rasa_url: 'http://x', timeout_s: 0}\n",
                                     "nlu: {rasa_url: 'http://x', retries: 3}\n"])
def test_bad_nlu_section_is_refused(tmp_path: Path, section: str) -> None:
    with pytest.raises(ScriptError, match="nlu"):
        load_kit(campaign_with_rasa(tmp_path, section))


def test_nlu_server_failing_mid_call_is_a_turn_not_understood() -> None:
    asked: list[str] = []

    class Down:
        def parse(self, text: str) -> dict[str, object]:
            asked.append(text)
            raise NluServerError("Rasa server http://x is not reachable")

    nlu = ResilientParser(Down())
    assert nlu.parse("네")["intent"] == {"name": "nlu_fallback", "confidence": 0.0}
    # The other readings of the turn do not each wait out the server's timeout.
    assert nlu.parse("네 좋아요")["intent"]["name"] == "nlu_fallback"
    assert asked == ["네"]
    nlu.down_until = 0.0  # the back-off has passed: the server is asked again
    nlu.parse("아니요")
    assert asked == ["네", "아니요"]


def test_campaign_uses_a_saved_model_or_pipeline_overrides(tmp_path: Path) -> None:
    # A model trained and saved by `python -m nlu train`, named relative to the campaign.
    trained = NluModel.train(load_training_data(DEMO / "nlu.yml"), {"fallback_threshold": 0.6})
    campaign = campaign_with_rasa(tmp_path, "nlu: {model: saved-model}\n")
    trained.save(campaign / "saved-model")
    kit = load_kit(campaign)
    assert isinstance(kit.nlu, NluModel) and kit.nlu.config["fallback_threshold"] == 0.6
    assert kit.nlu.parse("네 관심 있어요")["intent"]["name"] == "affirm"
    # Overrides: the model is trained here with them.
    kit = load_kit(campaign_with_rasa(tmp_path, "nlu: {config: {fallback_threshold: 0.7}}\n"))
    assert isinstance(kit.nlu, NluModel) and kit.nlu.config["fallback_threshold"] == 0.7


@pytest.mark.parametrize(("section", "message"), [
    ("nlu: {model: nowhere}\n", r"nlu.model: .*nowhere: no saved NLU model here"),
    ("nlu: {config: {treshold: 0.5}}\n", r"nlu.config: NLU config: unknown key `treshold`"),
    ("nlu: {config: [1]}\n", r"nlu.config must be a mapping"),
    ("nlu: {model: m, config: {}}\n", r"one of the keys"),
])
def test_bad_saved_model_or_config_is_refused(tmp_path: Path, section: str,
                                              message: str) -> None:
    with pytest.raises(ScriptError, match=message):
        load_kit(campaign_with_rasa(tmp_path, section))


def test_saved_model_missing_an_intent_of_the_script_is_refused(tmp_path: Path) -> None:
    data = load_training_data(DEMO / "nlu.yml")
    partial = TrainingData(examples=[e for e in data.examples if e.intent != "opt_out"])
    campaign = campaign_with_rasa(tmp_path, "nlu: {model: partial}\n")
    NluModel.train(partial).save(campaign / "partial")
    with pytest.raises(ScriptError, match=r"does not know the intent\(s\) opt_out"):
        load_kit(campaign)
