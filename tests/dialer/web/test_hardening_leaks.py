"""Issue 15, defect 6: roles that see masked numbers must not read a whole number in a
free-text field either (a SIP reason, the escalation reason, an error, the agent's
notes, what the customer said, a slot). `scrub_text` is property-tested; then one call
whose every text carries its callee's number is read through each page, API and export
an analyst can open."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import assume, example, given
from hypothesis import strategies as st
from openpyxl import load_workbook

from campaigns.models import CallAttempt, Campaign, Contact, Role, Turn
from campaigns.privacy import FULL_PHONE_ROLES, SEPARATORS, scrub_text
from campaigns.report import campaign_report, report_for
from campaigns.settings import CampaignSettings
from campaigns.users import create_user
from dialer.web.app import create_app

PASSWORD = "a long password"
MASKED = [r for r in Role if r not in FULL_PHONE_ROLES]
PHONE = "+821055556666"
# The number as people and programs write it, inside every free text of one call.
SPOKEN = ["+821055556666", "010-5555-6666", "010 5555 6666", "01055556666",
          "(010) 5555-6666", "+82 10 5555 6666"]
JOINED = re.compile(rf"\d(?:[{re.escape(SEPARATORS)}]{{0,3}}\d)*")


def longest_digit_run(text: str) -> int:
    """Digits of the longest number in `text`, separators between its digits allowed."""
    return max((sum(ch.isdecimal() for ch in m.group()) for m in JOINED.finditer(text)),
               default=0)


digits = st.text(alphabet="0123456789", min_size=1, max_size=16)
separated = st.lists(st.tuples(digits, st.sampled_from(["", " ", "-", ".", ") (", "/"])),
                     min_size=1, max_size=5).map(lambda xs: "".join(d + s for d, s in xs))
texts = st.lists(st.one_of(st.text(max_size=30), separated,
                           st.sampled_from(["sip:", "tel:", "sips:", "@", ";", "+"])),
                 max_size=8).map("".join)


@given(st.sampled_from(MASKED), texts)
@example(Role.ANALYST, "no SIP response from sip:+821012345678@10.0.0.1:5060 within 30s")
@example(Role.ANALYST, "제 번호는 공일공 010-1234-5678 이고요, 집은 (02) 123-4567")
@example(Role.ANALYST, "tel:+82-10-1234-5678;phone-context=x")
def test_no_whole_number_survives_for_masked_roles(role: str, text: str) -> None:
    out = scrub_text(role, text)
    assert out is not None
    assert longest_digit_run(out) < 7, (text, out)
    assert len(out) == len(text)  # masked in place: the sentence keeps its shape


@given(st.sampled_from(list(Role)), st.text())
def test_text_without_numbers_or_uris_is_unchanged(role: str, text: str) -> None:
    assume(not any(ch.isdecimal() for ch in text))
    assume(not re.search(r"(?i)\b(sips?|tel):", text))
    assert scrub_text(role, text) == text


@given(st.sampled_from(sorted(FULL_PHONE_ROLES)), texts)
def test_full_number_roles_read_the_text_as_it_is(role: str, text: str) -> None:
    assert scrub_text(role, text) == text


def test_uri_user_parts_and_numbers_keep_only_their_last_digits() -> None:
    out = scrub_text(Role.ANALYST, "no SIP response from sip:+821012345678@10.0.0.1:5060; "
                                   "agent sip:kim@pbx; callee 010-1234-5678")
    assert out == ("no SIP response from sip:•••••••••5678@10.0.0.1:5060; "
                   "agent sip:•••@pbx; callee •••-••••-5678")
    assert scrub_text(Role.ANALYST, None) is None
    assert scrub_text(Role.ANALYST, "call longer than 600s; 486 Busy Here") == \
        "call longer than 600s; 486 Busy Here"


# -- one call, every way an analyst can read it ------------------------------------------

@pytest.fixture
def app(tmp_path: Path) -> Any:
    application = create_app(CampaignSettings(data_dir=tmp_path / "data"))
    db = application.state.db
    for name, role in (("boss", "admin"), ("ana", "analyst"), ("sup", "supervisor")):
        create_user(db, name, PASSWORD, role)
    t0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    with db.session() as s:
        campaign = Campaign(name="leaks", script_dir="/x")
        s.add(campaign)
        s.flush()
        contact = Contact(campaign_id=campaign.id, phone=PHONE, fields={"name": "한지민"})
        s.add(contact)
        s.flush()
        attempt = CallAttempt(
            campaign_id=campaign.id, contact_id=contact.id, attempt_no=1,
            status="completed", disposition="failed", created_at=t0, dialed_at=t0,
            answered_at=t0 + timedelta(seconds=2), ended_at=t0 + timedelta(seconds=30),
            sip_status=480, sip_reason=f"Unavailable {SPOKEN[2]}",
            reason=f"no SIP response from sip:{PHONE}@10.0.0.7:5060 within 30s",
            error=f"SipError: cannot call sip:{PHONE}@10.0.0.7 or tel:{SPOKEN[1]}",
            agent_notes=f"고객이 {SPOKEN[4]} 로 다시 걸어 달라고 함", agent="kim",
            slots={"callback_number": SPOKEN[3], "day": "내일"})
        s.add(attempt)
        s.flush()
        s.add_all([Turn(attempt_id=attempt.id, seq=1, speaker="bot", text="안녕하세요"),
                   Turn(attempt_id=attempt.id, seq=2, speaker="customer",
                        text=f"제 번호는 {SPOKEN[5]} 이에요")])
        application.state.attempt, application.state.campaign = attempt.id, campaign.id
    return application


def login(app: Any, user: str) -> TestClient:
    c = TestClient(app, follow_redirects=False)
    assert c.post("/api/login", json={"username": user, "password": PASSWORD}).status_code == 200
    return c


def leaked(text: str) -> list[str]:
    return [n for n in (PHONE, *SPOKEN, "55556666", "5555-6666") if n in text]


def test_an_analyst_reads_no_number_in_any_text_of_a_call(app: Any) -> None:
    attempt, campaign = app.state.attempt, app.state.campaign
    ana = login(app, "ana")
    call = ana.get(f"/api/calls/{attempt}").json()
    assert call["phone"] == "•••••••••6666"
    assert call["reason"] == "no SIP response from sip:•••••••••6666@10.0.0.7:5060 within 30s"
    assert call["slots"]["day"] == "내일" and call["turns"][0]["text"] == "안녕하세요"
    page = ana.get(f"/calls/{attempt}")
    csv_text = ana.get("/api/cdr.csv").text
    xlsx = load_workbook(io.BytesIO(ana.get("/api/cdr.xlsx").content)).active
    assert xlsx is not None
    cells = json.dumps([list(r) for r in xlsx.iter_rows(values_only=True)], default=str,
                       ensure_ascii=False)
    report = report_for(Role.ANALYST, campaign_report(app.state.db, campaign))
    served = ana.get(f"/api/campaigns/{campaign}/report")
    assert served.status_code == 200 and served.json()["calls"][0]["reason"] == call["reason"]
    listing = ana.get("/api/calls").json()
    for where, text in (("the call's JSON", json.dumps(call, ensure_ascii=False)),
                        ("the call page", page.text), ("the CDR CSV", csv_text),
                        ("the CDR workbook", cells), ("the call list", json.dumps(listing)),
                        ("the campaign report", json.dumps(report, ensure_ascii=False)),
                        ("the report API", served.text)):
        assert not leaked(text), (where, leaked(text))
    row = next(csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff"))))
    assert row["sip_reason"] == "Unavailable ••• •••• 6666"


def test_roles_that_dial_still_read_the_texts_whole(app: Any) -> None:
    attempt = app.state.attempt
    for user in ("boss", "sup"):
        call = login(app, user).get(f"/api/calls/{attempt}").json()
        assert call["phone"] == PHONE and PHONE in call["reason"]
        assert call["turns"][1]["text"] == f"제 번호는 {SPOKEN[5]} 이에요"
        assert call["agent_notes"] == f"고객이 {SPOKEN[4]} 로 다시 걸어 달라고 함"
    report = report_for(Role.ADMIN, campaign_report(app.state.db, app.state.campaign))
    assert report["calls"][0]["phone"] == PHONE and PHONE in report["calls"][0]["error"]
