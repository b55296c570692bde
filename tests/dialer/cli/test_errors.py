"""Bad input through the real command line: one clear line naming the file, row or setting
and the fix, a non-zero exit, and nothing already stored lost."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.procs import DEMO, dialer_cmd, free_udp_tcp_port


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return dict(os.environ, DIALER_DATA_DIR=str(tmp_path / "data"),
                DIALER_PROMPT_CACHE_DIR=str(tmp_path / "cache"), DIALER_RTP_PORT_BASE="48600")


def dialer(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(dialer_cmd(*args), env=env, capture_output=True, text=True,
                          timeout=90, check=False)


def error_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    return lines[0]


def campaigns(env: dict[str, str]) -> list[dict[str, object]]:
    proc = dialer(env, "campaign", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_bad_call_lists_and_scripts_are_refused_and_nothing_stored_is_lost(
        env: dict[str, str], tmp_path: Path) -> None:
    good = dialer(env, "campaign", "create", "--name", "kept", "--script", str(DEMO),
                  "--csv", str(DEMO / "contacts.csv"), "--json")
    assert good.returncode == 0, good.stderr
    before = campaigns(env)

    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    no_phone = tmp_path / "customers.csv"
    no_phone.write_text("name,city\nKim,Seoul\n", encoding="utf-8")
    no_name = tmp_path / "phones.csv"
    no_name.write_text("phone,city\n010-1111-0001,Seoul\n", encoding="utf-8")
    garbage = tmp_path / "list.csv"
    garbage.write_bytes(bytes(range(256)) * 4)
    script = tmp_path / "script"
    script.mkdir()
    shutil.copy(DEMO / "nlu.yml", script / "nlu.yml")
    (script / "script.yml").write_text(
        (DEMO / "script.yml").read_text(encoding="utf-8").replace(
            "ask_price: price", "ask_discount: price", 1), encoding="utf-8")

    cases = [
        (empty, DEMO, ["empty.csv", "empty", "header row"]),
        (no_phone, DEMO, ["customers.csv", "no phone number column", "--phone-column"]),
        (garbage, DEMO, ["list.csv"]),
        (no_name, DEMO, ["script.yml", "{name}", "phones.csv", "no column 'name'"]),
        (DEMO / "contacts.csv", script, ["script.yml", "ask_discount", "nlu.yml"]),
        (tmp_path / "missing.csv", DEMO, ["missing.csv", "not found"]),
    ]
    for i, (csv, script_dir, words) in enumerate(cases):
        proc = dialer(env, "campaign", "create", "--name", f"bad {i}", "--script",
                      str(script_dir), "--csv", str(csv))
        assert proc.returncode != 0, (csv, proc.stdout)
        line = error_line(proc)
        assert all(w in line for w in words), line
    assert campaigns(env) == before


def test_unreachable_sip_target_is_a_clear_failure_not_a_ring(env: dict[str, str]) -> None:
    port = free_udp_tcp_port()  # nothing listens there
    started = time.monotonic()
    proc = dialer(env, "call", f"sip:+821011110001@127.0.0.1:{port}", "--script", str(DEMO),
                  "--json")
    assert proc.returncode == 1
    assert time.monotonic() - started < 30  # not the 25 s ring timeout plus pjsip's timer B
    line = error_line(proc)
    assert f"127.0.0.1:{port}" in line and "DIALER_SIP_TRUNK" in line
    outcome = json.loads(proc.stdout)  # stdout holds the JSON only, no pjsip chatter
    assert outcome["disposition"] == "failed" and outcome["sip_status"] == 408
    assert outcome["turns"] == []


def test_missing_vosk_model_stops_call_and_worker_at_once(env: dict[str, str]) -> None:
    env = dict(env, DIALER_VOSK_MODEL="/nonexistent/vosk-model")
    call = dialer(env, "call", "sip:+821011110001@127.0.0.1:5070", "--script", str(DEMO))
    worker = dialer(env, "worker")
    for proc in (call, worker):
        assert proc.returncode == 2
        line = error_line(proc)
        assert "/nonexistent/vosk-model" in line and "DIALER_VOSK_MODEL" in line


def test_worker_without_a_broker_says_so(env: dict[str, str]) -> None:
    port = free_udp_tcp_port()
    proc = dialer(dict(env, DIALER_BROKER_URL=f"redis://127.0.0.1:{port}/0"), "worker")
    assert proc.returncode == 2
    line = error_line(proc)
    assert f"redis://127.0.0.1:{port}/0" in line and "DIALER_BROKER_URL" in line


def test_a_database_missing_a_column_is_refused_in_one_line(env: dict[str, str],
                                                           tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "old.db"
    env = dict(env, DIALER_DATABASE_URL=f"sqlite:///{db}")
    assert dialer(env, "db", "upgrade").returncode == 0
    with sqlite3.connect(db) as con:
        con.execute("ALTER TABLE turn DROP COLUMN tts_ms")
    proc = dialer(env, "db", "upgrade")
    assert proc.returncode == 2
    assert "lacks turn.tts_ms although Alembic says it is up to date" in error_line(proc)


def test_schedule_states_and_dnc_from_the_command_line(env: dict[str, str]) -> None:
    base = ["campaign", "create", "--script", str(DEMO), "--csv", str(DEMO / "contacts.csv")]
    for i, (option, words) in enumerate([
        (["--window", "07:00-20:00"], ["outside 08:00-21:00", "the law allows"]),
        (["--window", "0900"], ["--window", "HH:MM-HH:MM"]),
        (["--last-day", "2026-13-01"], ["--last-day", "YYYY-MM-DD"]),
        (["--retry", "interested=60"], ["--retry", "only", "busy"]),
        (["--max-cps", "0"], ["--max-cps"]),
    ]):
        proc = dialer(env, *base, "--name", f"sched {i}", *option)
        assert proc.returncode == 2 and all(w in error_line(proc) for w in words), proc.stderr
    assert campaigns(env) == []
    made = dialer(env, *base, "--name", "paced", "--window", "10:00-18:30", "--max-cps", "2",
                  "--retry", "busy=120", "--json")
    assert made.returncode == 0, made.stderr
    cid = str(json.loads(made.stdout)["campaign_id"])
    pause = dialer(env, "campaign", "pause", cid)
    assert pause.returncode == 2 and "a draft campaign cannot pause; it can: start, stop" \
        in error_line(pause)
    for action, state in (("start", "running"), ("pause", "paused"), ("resume", "running"),
                          ("stop", "stopped")):
        proc = dialer(env, "campaign", action, cid)
        assert proc.returncode == 0 and f"campaign {cid} {state}" in proc.stdout, proc.stderr
    added = dialer(env, "dnc", "add", "010-5555-0001", "+82 10 5555 0002", "--reason", "letter")
    assert added.returncode == 0 and "+821055550001 added" in added.stdout
    again = dialer(env, "dnc", "add", "01055550001")
    assert "+821055550001 was already on the list" in again.stdout
    found = json.loads(dialer(env, "dnc", "search", "5555-0002", "--json").stdout)
    assert [(e["phone"], e["reason"]) for e in found] == [("+821055550002", "letter")]
    bad = dialer(env, "dnc", "add", "hello")
    assert bad.returncode == 2 and "not a phone number" in error_line(bad)


def test_another_list_for_a_campaign_from_the_command_line(env: dict[str, str],
                                                          tmp_path: Path) -> None:
    made = dialer(env, "campaign", "create", "--name", "two lists", "--script", str(DEMO),
                  "--csv", str(DEMO / "contacts.csv"), "--json")
    cid = str(json.loads(made.stdout)["campaign_id"])
    more = tmp_path / "more.csv"
    more.write_text("name,phone\n새고객,010-6000-0001\n중복,010-1111-0001\n", encoding="utf-8")
    added = dialer(env, "campaign", "import", cid, "--csv", str(more), "--json")
    assert added.returncode == 0, added.stderr
    result = json.loads(added.stdout)
    assert (result["accepted"], result["rejected"]) == (1, 1)
    assert "already in this campaign" in result["rejections"][0]["reason"]
    two = tmp_path / "two.csv"
    two.write_text("name,집,회사\n가,010-6000-0002,010-6000-0003\n", encoding="utf-8")
    unclear = dialer(env, "campaign", "import", cid, "--csv", str(two))
    assert unclear.returncode == 2 and "--phone-column" in error_line(unclear)
    picked = dialer(env, "campaign", "import", cid, "--csv", str(two), "--phone-column", "집")
    assert picked.returncode == 0 and "1 accepted" in picked.stdout, picked.stderr
    missing = dialer(env, "campaign", "import", cid, "--csv", str(tmp_path / "nope.csv"))
    assert missing.returncode == 2 and "file not found" in error_line(missing)
