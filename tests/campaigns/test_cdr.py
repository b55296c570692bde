"""Call detail records from a real database (SQLite and PostgreSQL): hand-made calls whose
CDR rows are worked out by hand, the CSV (BOM, formulas neutralised), the XLSX read back
with openpyxl and compared cell by cell with the database, masking, filters, and the
audit log."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from campaigns.cdr import (
    CDR_COLUMNS,
    CdrError,
    CdrFilter,
    audit_entries,
    cdr_header,
    csv_cell,
    iso,
    iter_cdr,
    make_filter,
    record_audit,
    write_csv,
    write_xlsx,
)
from campaigns.db import Database
from campaigns.models import CallAttempt, Campaign, Contact
from campaigns.privacy import mask_phone

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
FORMULA = '=HYPERLINK("http://evil.example/","click")'


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def make_calls(db: Database) -> dict[str, int]:
    """Six calls in two campaigns; their attempt ids by name."""
    with db.session() as s:
        spring = Campaign(name="봄 캠페인", script_dir="/x", caller_id="+8215880000")
        odd = Campaign(name=FORMULA, script_dir="/x")  # no caller ID of its own
        s.add_all([spring, odd])
        s.flush()
        phones = {"answered": "+821011110001", "no_answer": "+821011110002",
                  "handoff": "+821011110003", "blocked": "+821011110004",
                  "waiting": "+821011110005", "odd": "+821022220001"}
        contacts = {k: Contact(campaign_id=(odd if k == "odd" else spring).id, phone=p,
                               fields={}) for k, p in phones.items()}
        s.add_all(contacts.values())
        s.flush()

        def attempt(key: str, status: str = "completed", **kw: Any) -> CallAttempt:
            c = contacts[key]
            return CallAttempt(campaign_id=c.campaign_id, contact_id=c.id, attempt_no=1,
                               status=status, **kw)

        calls = {
            # answered 3.2504 s after dialing, ended 60.25 s after the answer
            "answered": attempt("answered", created_at=at(-1), dialed_at=at(0),
                                answered_at=at(3.2504), ended_at=at(63.5004),
                                sip_status=200, sip_reason="OK", disposition="interested",
                                codec="PCMU/8000"),
            "no_answer": attempt("no_answer", created_at=at(99), dialed_at=at(100),
                                 ended_at=at(125), sip_status=480,
                                 sip_reason="Temporarily Unavailable",
                                 disposition="no_answer"),
            # answered, handed off, the agent took it; exactly 90 s answered
            "handoff": attempt("handoff", created_at=at(199), dialed_at=at(200),
                               answered_at=at(202), ended_at=at(292), sip_status=200,
                               sip_reason="OK", disposition="handoff", handoff=True,
                               handoff_result="connected", agent="agent1",
                               agent_disposition="resolved", codec="G722/16000"),
            # on a DNC list when its turn came: never dialed, starts when it was queued
            "blocked": attempt("blocked", created_at=at(86400 + 300), ended_at=at(86400 + 300),
                               disposition="blocked"),
            # handed off, the agent's phone still ringing: no result yet, no end
            "waiting": attempt("waiting", created_at=at(86400 + 400),
                               dialed_at=at(86400 + 401), answered_at=at(86400 + 405),
                               status="answered", handoff=True),
            "odd": attempt("odd", created_at=at(500), dialed_at=at(500), ended_at=at(530),
                           sip_status=486, sip_reason="@SUM(1+1)", disposition="busy"),
        }
        s.add_all(calls.values())
        s.flush()
        return {k: a.id for k, a in calls.items()}


def ms(seconds: float) -> datetime:
    """A time as the CDR holds it: UTC, cut to the millisecond."""
    t = at(seconds)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def test_rows_worked_out_by_hand(db: Database) -> None:
    ids = make_calls(db)
    rows = {r["call_id"]: r for r in iter_cdr(db)}
    assert list(rows) == sorted(ids.values())  # every call, oldest attempt first
    answered = rows[ids["answered"]]
    assert answered == {
        "call_id": ids["answered"], "campaign": "봄 캠페인", "caller_id": "+8215880000",
        "callee": "+821011110001", "start": ms(0), "answer": ms(3.2504), "end": ms(63.5004),
        "duration_s": 63.5,  # 63.500 (ms cut)
        "billable_s": 61,  # 63.500 - 3.250 = 60.25, rounded up
        "sip_status": 200, "sip_reason": "OK", "disposition": "interested", "handoff": "no",
        "agent": None, "agent_disposition": None, "audio_codec": "PCMU/8000"}
    no_answer = rows[ids["no_answer"]]
    assert (no_answer["answer"], no_answer["duration_s"], no_answer["billable_s"],
            no_answer["audio_codec"]) == (None, 25.0, 0, None)  # no media, no codec
    handoff = rows[ids["handoff"]]
    assert (handoff["billable_s"], handoff["handoff"], handoff["agent"],
            handoff["agent_disposition"], handoff["audio_codec"]) == (
        90, "connected", "agent1", "resolved", "G722/16000")
    blocked = rows[ids["blocked"]]
    assert (blocked["start"], blocked["duration_s"], blocked["billable_s"],
            blocked["sip_status"]) == (ms(86400 + 300), 0.0, 0, None)
    waiting = rows[ids["waiting"]]
    assert (waiting["handoff"], waiting["end"], waiting["duration_s"],
            waiting["billable_s"]) == ("yes", None, None, 0)
    odd = rows[ids["odd"]]
    assert (odd["campaign"], odd["caller_id"], odd["sip_reason"]) == (FORMULA, None,
                                                                        "@SUM(1+1)")
    assert all(r["start"].tzinfo == UTC for r in rows.values())


def test_csv_has_a_bom_iso_times_and_no_formulas(db: Database) -> None:
    ids = make_calls(db)
    data = b"".join(write_csv(iter_cdr(db), chunk_rows=2))
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == list(CDR_COLUMNS)
    by_id = {int(r[0]): dict(zip(CDR_COLUMNS, r, strict=True)) for r in rows[1:]}
    assert len(by_id) == len(ids)
    answered = by_id[ids["answered"]]
    assert answered["campaign"] == "봄 캠페인" and answered["callee"] == "+821011110001"
    assert (answered["start"], answered["answer"], answered["end"]) == (
        "2026-11-02T10:00:00.000Z", "2026-11-02T10:00:03.250Z", "2026-11-02T10:01:03.500Z")
    assert (answered["duration_s"], answered["billable_s"]) == ("63.5", "61")
    assert rows[0][-1] == "audio_codec" and answered["audio_codec"] == "PCMU/8000"
    assert by_id[ids["handoff"]]["audio_codec"] == "G722/16000"
    assert by_id[ids["no_answer"]]["answer"] == "" and by_id[ids["waiting"]]["end"] == ""
    assert by_id[ids["no_answer"]]["audio_codec"] == ""
    odd = by_id[ids["odd"]]
    assert odd["campaign"] == "'" + FORMULA and odd["sip_reason"] == "'@SUM(1+1)"
    assert odd["caller_id"] == "" and odd["sip_status"] == "486"


@pytest.mark.parametrize(("value", "shown"), [
    ("=1+2", "'=1+2"), ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
    ("+cmd", "'+cmd"), ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"),
    ("+821011110001", "+821011110001"), ("-5", "-5"), ("안녕", "안녕"), (None, ""), (7, "7"),
])
def test_csv_cells(value: Any, shown: str) -> None:
    assert csv_cell(value) == shown


def test_xlsx_opens_with_openpyxl_and_matches_the_database(db: Database,
                                                           tmp_path: Path) -> None:
    make_calls(db)
    path = tmp_path / "cdr.xlsx"
    assert write_xlsx(iter_cdr(db), path) == 6
    wb = load_workbook(path)
    ws = wb.active
    assert ws is not None and ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:P7"
    header = next(ws.iter_rows(min_row=1, max_row=1))
    assert [c.value for c in header] == list(CDR_COLUMNS) and all(c.font.b for c in header)
    assert ws.column_dimensions["B"].width == 24
    cells = {row[0].value: row for row in ws.iter_rows(min_row=2)}

    def naive_ms(t: datetime | None) -> datetime | None:
        if t is None:
            return None
        t = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
        return t.replace(tzinfo=None, microsecond=t.microsecond // 1000 * 1000)

    with db.session() as s:  # the database read on its own, not through campaigns.cdr
        attempts = s.query(CallAttempt).order_by(CallAttempt.id).all()
        assert sorted(cells) == [a.id for a in attempts]
        for a in attempts:
            campaign, contact = s.get(Campaign, a.campaign_id), s.get(Contact, a.contact_id)
            assert campaign is not None and contact is not None
            start = naive_ms(a.dialed_at or a.created_at)
            answer, end = naive_ms(a.answered_at), naive_ms(a.ended_at)
            billable = 0
            if answer is not None and end is not None:
                secs = (end - answer).total_seconds()
                billable = int(secs) + (secs > int(secs))
            want = [a.id, campaign.name, campaign.caller_id, contact.phone, start, answer,
                    end, None if end is None or start is None else (end - start).total_seconds(),
                    billable, a.sip_status, a.sip_reason, a.disposition,
                    a.handoff_result or ("yes" if a.handoff else "no"), a.agent,
                    a.agent_disposition, a.codec]
            row = cells[a.id]
            got = [c.value for c in row] + [None] * (len(CDR_COLUMNS) - len(row))
            assert got == want, a.id
            for c in row:
                if isinstance(c.value, datetime):
                    assert c.number_format == "yyyy-mm-dd hh:mm:ss"
                if isinstance(c.value, str):
                    assert c.data_type == "s", (c.coordinate, c.value)  # never a formula
            if campaign.name == FORMULA:
                assert row[1].quotePrefix and row[1].data_type == "s"


def test_analysts_get_masked_numbers(db: Database, tmp_path: Path) -> None:
    make_calls(db)
    masked = list(iter_cdr(db, mask=True))
    assert [r["callee"] for r in masked] == [mask_phone(r["callee"]) for r in iter_cdr(db)]
    assert masked[0]["callee"] == "•••••••••0001"
    data = b"".join(write_csv(iter_cdr(db, mask=True))).decode("utf-8-sig")
    assert "+8210" not in data and "0001" in data
    path = tmp_path / "m.xlsx"
    write_xlsx(iter_cdr(db, mask=True), path)
    ws = load_workbook(path).active
    assert ws is not None
    assert {str(r[3]) for r in ws.iter_rows(min_row=2, values_only=True)} == {
        r["callee"] for r in masked}


def test_filters(db: Database) -> None:
    ids = make_calls(db)

    def got(**kw: Any) -> set[int]:
        return {r["call_id"] for r in iter_cdr(db, make_filter(**kw))}

    with db.session() as s:
        spring = s.query(Campaign).filter_by(name="봄 캠페인").one().id
    everything = set(ids.values())
    assert got() == everything
    assert got(campaign_ids=[spring]) == everything - {ids["odd"]}
    assert got(campaign_ids=[spring + 100]) == set()
    # Day bounds are UTC days; the end day is included. blocked and waiting are next day.
    day1 = {ids[k] for k in ("answered", "no_answer", "handoff", "odd")}
    assert got(start="2026-11-02", end="2026-11-02") == day1
    assert got(start="2026-11-03") == everything - day1
    # A time bound: no_answer was dialed at 10:01:40; blocked counts from when queued.
    assert got(start="2026-11-02T10:01:40", end="2026-11-02T10:05") == {
        ids["no_answer"], ids["handoff"]}
    assert got(start="2026-11-02T19:01:40+09:00", end="2026-11-02T10:01:41Z") == {
        ids["no_answer"]}
    assert got(disposition="busy") == {ids["odd"]}
    assert got(phone="0001") == {ids["answered"], ids["odd"]}
    assert got(phone="010-1111-0003") == {ids["handoff"]}  # national form, leading 0
    assert got(phone="+82 10 1111 0004") == {ids["blocked"]}
    assert got(phone="-") == everything  # no digits: no filter
    assert got(campaign_ids=[spring], disposition="handoff", phone="0003") == {
        ids["handoff"]}


@pytest.mark.parametrize(("kw", "message"), [
    ({"start": "yesterday"}, "is not a date"),
    ({"end": "2026-13-01"}, "is not a date"),
    ({"start": "2026-11-03", "end": "2026-11-01"}, "must come after the start"),
    ({"disposition": "maybe"}, "no disposition 'maybe'"),
])
def test_bad_filters_say_what_is_wrong(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(CdrError, match=message):
        make_filter(**kw)


def test_filter_as_dict_for_the_audit_log() -> None:
    f = make_filter(campaign_ids=[3, 1, 3], start="2026-11-02", end="2026-11-02",
                    phone="010-1234-5678")
    assert f.as_dict() == {"campaign_ids": [1, 3], "start": "2026-11-02T00:00:00.000Z",
                           "end": "2026-11-03T00:00:00.000Z", "phone": "1012345678"}
    assert CdrFilter().as_dict() == {}


def test_the_audit_log_newest_first_in_pages(db: Database) -> None:
    for i in range(5):
        record_audit(db, "mina" if i % 2 else "jun", "marketing", "cdr_export",
                     {"format": "csv", "rows": i})
    record_audit(db, "mina", "marketing", "other", {})
    entries, total = audit_entries(db, page=1, per_page=4)
    assert total == 6 and [e["detail"].get("rows") for e in entries] == [None, 4, 3, 2]
    entries, total = audit_entries(db, page=2, per_page=4)
    assert total == 6 and [e["detail"].get("rows") for e in entries] == [1, 0]
    mine, total = audit_entries(db, username="mina", action="cdr_export")
    assert total == 2 and [e["detail"]["rows"] for e in mine] == [3, 1]
    assert mine[0]["at"].endswith("Z") and mine[0]["role"] == "marketing"


def test_times_in_a_zone_say_it_in_header_and_offset(db: Database, tmp_path: Path) -> None:
    ids = make_calls(db)
    assert iso(T0, "Asia/Seoul") == "2026-11-02T19:00:00.000+09:00"
    assert iso(datetime(2026, 7, 1, 12, tzinfo=UTC), "America/New_York") == (
        "2026-07-01T08:00:00.000-04:00")  # summer time
    assert iso(at(0.25), "Asia/Kolkata") == "2026-11-02T15:30:00.250+05:30"
    assert cdr_header("UTC") == list(CDR_COLUMNS)
    assert cdr_header("Asia/Seoul")[4:7] == [
        "start (Asia/Seoul)", "answer (Asia/Seoul)", "end (Asia/Seoul)"]
    # a day of Seoul runs from 15:00 UTC the day before; the calls at 10:00 UTC are in it
    f = make_filter(start="2026-11-02", end="2026-11-02", tz="Asia/Seoul")
    assert (f.start, f.end) == (datetime(2026, 11, 1, 15, tzinfo=UTC),
                                datetime(2026, 11, 2, 15, tzinfo=UTC))
    assert f.as_dict()["tz"] == "Asia/Seoul"
    assert make_filter(start="2026-11-02T19:00", tz="Asia/Seoul").start == T0
    assert make_filter(start="2026-11-02T19:00+00:00", tz="Asia/Seoul").start == at(9 * 3600)
    rows = list(csv.reader(io.StringIO(b"".join(
        write_csv(iter_cdr(db, f), tz="Asia/Seoul")).decode().lstrip("\ufeff"))))
    assert rows[0] == cdr_header("Asia/Seoul")
    assert rows[1][0] == str(ids["answered"]) and rows[1][4] == "2026-11-02T19:00:00.000+09:00"
    path = tmp_path / "seoul.xlsx"
    write_xlsx(iter_cdr(db, f), path, tz="Asia/Seoul")
    book = load_workbook(path)
    assert book.sheetnames == ["CDR"]
    sheet = [list(r) for r in book.active.iter_rows(values_only=True)]  # type: ignore[union-attr]
    assert sheet[0] == cdr_header("Asia/Seoul") and sheet[1][4] == datetime(2026, 11, 2, 19)
