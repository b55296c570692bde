"""The campaign page's advice on the script's NLU examples (dialer/web/nlu_advice.py),
on a real app: computed once per version of the script, afresh when nlu.yml changes,
and listed on the page by its script."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from campaigns.settings import CampaignSettings
from campaigns.users import create_user
from dialer.web.app import create_app
from tests.support.procs import thin_demo

DEMO = Path(__file__).resolve().parents[3] / "campaigns" / "examples" / "demo"
PASSWORD = "a long password"


@pytest.fixture
def app(tmp_path: Path) -> Any:
    data = tmp_path / "data"
    thin_demo(data / "scripts" / "mine")
    application = create_app(CampaignSettings(data_dir=data))
    create_user(application.state.db, "mina", PASSWORD, "marketing")
    return application


def test_the_campaign_page_advises_on_the_nlu_examples(app: Any, tmp_path: Path) -> None:
    c = TestClient(app, follow_redirects=False)
    csrf = c.post("/api/login", json={"username": "mina", "password": PASSWORD}).json()[
        "csrf_token"]
    made = c.post("/api/campaigns", headers={"X-CSRF-Token": csrf},
                  json={"name": "advised", "script": "mine"})
    assert made.status_code == 201, made.text
    cid = made.json()["id"]
    page = c.get(f"/campaigns/{cid}").text
    assert f'data-url="/api/campaigns/{cid}/nlu-advice"' in page
    assert '<script src="/static/campaign.js"></script>' in page
    assert "fetch(card.getAttribute(\"data-url\")" in c.get("/static/campaign.js").text

    advice = c.get(f"/api/campaigns/{cid}/nlu-advice").json()
    assert {"intent": "call_later", "examples": 3} in advice["few_examples"]
    assert set(advice["cross_validation"]["accuracy"]) >= {"affirm", "deny", "opt_out"}
    assert any(line.startswith("intent `call_later` has 3 examples")
               for line in advice["advice"])
    # Where an example is, without the server's folders: "nlu.yml:12".
    sources = [m["source"] for m in advice["cross_validation"]["misses"]]
    assert all(s.startswith("nlu.yml:") for s in sources), sources
    assert str(tmp_path) not in json.dumps(advice, ensure_ascii=False)
    # Edited training data is advised on afresh; call_later has enough examples now.
    nlu = tmp_path / "data" / "scripts" / "mine" / "nlu.yml"
    text = nlu.read_text(encoding="utf-8")
    more = "".join(f"    - {t}\n" for t in (
        "이따가 다시 걸어 주세요", "지금 바빠요", "저녁에 전화 주세요", "회의 중이에요",
        "운전 중이라서요", "내일 통화해요"))
    anchor = "- intent: call_later\n  examples: |\n"
    assert anchor in text
    nlu.write_text(text.replace(anchor, anchor + more), encoding="utf-8")
    again = c.get(f"/api/campaigns/{cid}/nlu-advice").json()
    assert "call_later" not in {f["intent"] for f in again["few_examples"]}
    assert c.get("/api/campaigns/999999/nlu-advice").status_code == 404
    assert TestClient(app).get(f"/api/campaigns/{cid}/nlu-advice").status_code in (401, 303)
