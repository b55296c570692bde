"""`dialer user create` makes the first admin, who can then log in to the web app."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from fastapi.testclient import TestClient

from campaigns.settings import CampaignSettings
from dialer.web.app import create_app
from tests.support.procs import dialer_cmd


def dialer(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(dialer_cmd(*args), env=env, input=stdin, capture_output=True,
                          text=True, timeout=90, check=False)


def test_first_admin_from_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = dict(os.environ, DIALER_DATA_DIR=str(data))
    made = dialer(env, "user", "create", "root", "--role", "admin", "--password-stdin",
                  stdin="a long password\n")
    assert made.returncode == 0 and "user root (admin) created" in made.stdout, made.stderr
    for args, stdin, message in [
        (("root", "--role", "admin"), "another password\n", "user 'root' exists already"),
        (("mina", "--role", "boss"), "a long password\n", "unknown role 'boss'"),
        (("mina", "--role", "agent"), "short\n", "at least 10 characters"),
    ]:
        proc = dialer(env, "user", "create", *args, "--password-stdin", stdin=stdin)
        errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
        assert proc.returncode == 2 and len(errors) == 1 and message in errors[0], proc.stderr
        assert "Traceback" not in proc.stderr
    listed = dialer(env, "user", "list", "--json")
    assert [(u["username"], u["role"]) for u in json.loads(listed.stdout)] == [("root", "admin")]
    # The password typed there opens the web app.
    app = create_app(CampaignSettings(data_dir=data))
    r = TestClient(app).post("/api/login", json={"username": "root",
                                                 "password": "a long password"})
    assert r.status_code == 200 and r.json()["role"] == "admin"
