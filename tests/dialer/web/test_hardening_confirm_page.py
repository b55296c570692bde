"""Issue 15, defect 3 on the call page: a reply the robot asked about, and the answer,
are marked in the transcript; the number went on no list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from campaigns import attempts, dispatch, dnc, lifecycle, list_imports
from campaigns.settings import CampaignSettings
from campaigns.users import create_user
from dialer.conversation.outcomes import TurnRecord
from dialer.web.app import create_app
from tests.dialer.web.test_web_campaigns import DEMO, PASSWORD, login


def test_the_call_page_shows_the_confirmation_asked_and_its_answer(tmp_path: Path) -> None:
    app: Any = create_app(CampaignSettings(data_dir=tmp_path / "data"))
    db = app.state.db
    create_user(db, "mina", PASSWORD, "marketing")
    csv = tmp_path / "one.csv"
    csv.write_text("name,phone\n한지민,010-8200-0001\n", encoding="utf-8")
    cid = list_imports.create_campaign(db, name="confirm", script_dir=DEMO, csv_path=csv,
                                  uploads_dir=tmp_path / "up", dry_run=True).campaign_id
    lifecycle.start_campaign(db, cid)
    [a] = dispatch.claim_due(db, sandbox=True)
    for turn in (TurnRecord(seq=1, speaker="customer", node="greeting", text="번호 지워 주세요",
                            intent="opt_out", confirmation="asked"),
                 TurnRecord(seq=2, speaker="bot", node="greeting",
                            text="수신 거부로 처리해 드릴까요?"),
                 TurnRecord(seq=3, speaker="customer", node="greeting", text="아니요",
                            intent="deny", confirmation="no")):
        attempts.save_turn(db, a, turn)
    c, _ = login(app)
    page = c.get(f"/calls/{a}")
    assert page.status_code == 200
    assert "asked to confirm" in page.text and "said it was not so" in page.text
    assert dnc.search(db, "8200") == []
