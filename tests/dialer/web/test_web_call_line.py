"""The call page says which line a call was on, in words (G.711 μ-law, 8 kHz; G.722,
16 kHz): the recogniser understands less over G.711, and an analyst reading a badly
understood call needs to see it. Every role that opens call pages sees it; the JSON has
the codec as negotiated."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from campaigns.models import CallAttempt, Campaign, Contact
from campaigns.settings import CampaignSettings
from campaigns.users import create_user
from dialer.web.app import create_app
from dialer.web.routes.calls import line_label

PASSWORD = "a long password"
USERS = {"boss": "admin", "mina": "marketing", "ana": "analyst", "sup": "supervisor",
         "ag": "agent"}
CODECS = {"pcmu": "PCMU/8000", "pcma": "PCMA/8000", "g722": "G722/16000", "none": None}


@pytest.fixture
def app(tmp_path: Path) -> Any:
    application = create_app(CampaignSettings(data_dir=tmp_path / "data"))
    for name, role in USERS.items():
        create_user(application.state.db, name, PASSWORD, role)
    return application


def make_calls(app: Any) -> dict[str, int]:
    """One answered call per line (and one with no media), their ids by line."""
    with app.state.db.session() as s:
        campaign = Campaign(name="lines", script_dir="/x")
        s.add(campaign)
        s.flush()
        ids = {}
        for i, (key, codec) in enumerate(CODECS.items()):
            contact = Contact(campaign_id=campaign.id, phone=f"+82104000000{i}", fields={})
            s.add(contact)
            s.flush()
            a = CallAttempt(campaign_id=campaign.id, contact_id=contact.id, attempt_no=1,
                            status="completed", sip_status=200 if codec else 480,
                            disposition="interested" if codec else "no_answer", codec=codec)
            s.add(a)
            s.flush()
            ids[key] = a.id
        return ids


def login(app: Any, user: str) -> TestClient:
    c = TestClient(app, follow_redirects=False)
    assert c.post("/api/login", json={"username": user, "password": PASSWORD}).status_code == 200
    return c


def line_shown(page: str) -> str:
    """The text of the page's Line fact."""
    found = re.search(r'<dt>Line</dt><dd id="line"[^>]*>(.*?)</dd>', page, re.DOTALL)
    assert found, "the call page has no Line fact"
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip()


def test_the_call_page_shows_the_line_in_words(app: Any) -> None:
    ids = make_calls(app)
    ana = login(app, "ana")
    pcmu = line_shown(ana.get(f"/calls/{ids['pcmu']}").text)
    assert pcmu.startswith("G.711 μ-law (PCMU, 8 kHz)") and "telephone band" in pcmu
    assert line_shown(ana.get(f"/calls/{ids['pcma']}").text).startswith(
        "G.711 A-law (PCMA, 8 kHz)")
    assert line_shown(ana.get(f"/calls/{ids['g722']}").text) == "G.722 (16 kHz)"
    assert line_shown(ana.get(f"/calls/{ids['none']}").text) == "—"
    assert ana.get(f"/api/calls/{ids['pcmu']}").json()["codec"] == "PCMU/8000"
    assert ana.get(f"/api/calls/{ids['none']}").json()["codec"] is None


def test_the_line_is_shown_to_the_roles_that_open_calls_only(app: Any) -> None:
    ids = make_calls(app)
    for user in ("boss", "mina", "sup"):
        assert line_shown(login(app, user).get(f"/calls/{ids['g722']}").text) == \
            "G.722 (16 kHz)", user
    agent = login(app, "ag")
    assert agent.get(f"/calls/{ids['g722']}").status_code == 403
    assert agent.get(f"/api/calls/{ids['g722']}").status_code == 403


@pytest.mark.parametrize(("codec", "shown"), [
    ("PCMU/8000", "G.711 μ-law (PCMU, 8 kHz)"), ("PCMA/8000", "G.711 A-law (PCMA, 8 kHz)"),
    ("pcmu/8000", "G.711 μ-law (PCMU, 8 kHz)"), ("G722/16000", "G.722 (16 kHz)"),
    ("G722/8000", "G.722 (16 kHz)"),  # the RTP clock SDP announces for G.722
    ("opus/48000", "opus (48 kHz)"), ("L16/44100", "L16 (44.1 kHz)"),
    ("speex", "speex"), (None, "—"), ("", "—"),
])
def test_line_label(codec: str | None, shown: str) -> None:
    assert line_label(codec) == shown
