"""The call explorer as analysts work in it, through the real app and database: the
contact's name (masked like the number for analysts, who may not search by it), the
filters kept from the list to a call and back, the calls before and after one under the
same filters, the campaign as a link, the CSV of the calls found, talk time in whole
seconds, the last step of the script in words and nobody's raw codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from campaigns.models import CallAttempt, Campaign, Contact, Turn
from campaigns.settings import CampaignSettings
from campaigns.users import create_user
from dialer.web.app import create_app

PASSWORD = "a long password"
USERS = {"boss": "admin", "mina": "marketing", "ana": "analyst", "sup": "supervisor"}
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
NAMES = ["김민준", "김서연", "박지호", "O'Brien %_", "김민준"]


@pytest.fixture
def app(tmp_path: Path) -> Any:
    application = create_app(CampaignSettings(data_dir=tmp_path / "data"))
    for name, role in USERS.items():
        create_user(application.state.db, name, PASSWORD, role)
    return application


@pytest.fixture
def calls(app: Any) -> dict[str, Any]:
    """Five answered calls of campaign "spring" (ids 1-5, one a name each: two
    "김민준"), and one of campaign "other" (id 6)."""
    with app.state.db.session() as s:
        spring, other = Campaign(name="spring", script_dir="/x"), Campaign(
            name="other", script_dir="/x")
        s.add_all([spring, other])
        s.flush()
        ids = []
        for i, name in enumerate([*NAMES, "최유나"]):
            contact = Contact(campaign_id=(other if i == 5 else spring).id,
                              phone=f"+82101111000{i + 1}", fields={"name": name})
            s.add(contact)
            s.flush()
            start = T0 + timedelta(minutes=i)
            a = CallAttempt(campaign_id=contact.campaign_id, contact_id=contact.id,
                            attempt_no=1, status="completed", created_at=start,
                            dialed_at=start, answered_at=start + timedelta(seconds=2),
                            ended_at=start + timedelta(seconds=2 + 45.6 + 20 * i),
                            disposition="opt_out" if i % 2 else "interested",
                            end_node="opt_out_close" if i % 2 else "thanks")
            s.add(a)
            s.flush()
            ids.append(a.id)
            s.add_all([
                Turn(attempt_id=a.id, seq=0, speaker="bot", node="greeting",
                     text="안녕하세요", offset_ms=0.0),
                Turn(attempt_id=a.id, seq=1, speaker="customer", node="greeting",
                     text="얼마에요?", intent="ask_price", confidence=0.9, offset_ms=3400.0),
                Turn(attempt_id=a.id, seq=2, speaker="agent", node="agent", text="네",
                     offset_ms=9000.0)])
        return {"ids": ids, "spring": spring.id, "other": other.id}


def login(app: Any, user: str) -> TestClient:
    c = TestClient(app, follow_redirects=False)
    r = c.post("/api/login", json={"username": user, "password": PASSWORD})
    assert r.status_code == 200
    c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    assert c.patch("/api/me/preferences", json={"time_zone": "UTC"}).status_code == 200
    return c


def rows(html: str) -> list[str]:
    """The call ids of the explorer's result rows, in order."""
    body = html.split('id="results"', 1)[1].split("</table>", 1)[0] if 'id="results"' in html else ""
    return [part.split('"', 1)[0] for part in body.split('data-call="')[1:]]


def test_names_are_shown_and_searched_by_their_beginning(app: Any, calls: dict[str, Any]
                                                        ) -> None:
    mina = login(app, "mina")
    found = mina.get("/api/calls", params={"name": "김민준"}).json()
    assert found["total"] == 2 and {c["name"] for c in found["calls"]} == {"김민준"}
    assert mina.get("/api/calls", params={"name": "김"}).json()["total"] == 3  # beginning
    assert mina.get("/api/calls", params={"name": "민준"}).json()["total"] == 0  # not inside
    # LIKE's own characters are letters like any other
    assert mina.get("/api/calls", params={"name": "O'Brien %"}).json()["total"] == 1
    assert mina.get("/api/calls", params={"name": "%"}).json()["total"] == 0
    assert mina.get("/api/calls", params={"name": "x" * 101}).status_code == 422
    page = mina.get("/calls", params={"name": "  김서  "}).text
    assert rows(page) == [str(calls["ids"][1])] and '<td class="name">김서연</td>' in page
    assert 'value="김서"' in page  # the box keeps what was searched, trimmed
    long = mina.get("/calls", params={"name": "가" * 150}).text
    assert "at most 100 characters" in long and rows(long) == []


def test_analysts_see_names_masked_and_may_not_search_by_them(app: Any,
                                                              calls: dict[str, Any]) -> None:
    ana = login(app, "ana")
    listed = ana.get("/api/calls").json()["calls"]
    assert sorted(c["name"] for c in listed) == sorted(
        n[0] + "•" * (len(n) - 1) for n in [*NAMES, "최유나"])
    page = ana.get("/calls").text
    assert "김민준" not in page and "김••" in page and 'name="name"' not in page
    refused = ana.get("/api/calls", params={"name": "김"})
    assert refused.status_code == 400 and "cannot search by name" in refused.json()["detail"]
    said = ana.get("/calls", params={"name": "김"}).text
    assert "cannot search by name" in said and rows(said) == []
    one = ana.get(f"/calls/{calls['ids'][0]}").text
    assert "김••" in one and "김민준" not in one
    assert ana.get(f"/api/calls/{calls['ids'][0]}").json()["name"] == "김••"
    report = ana.get(f"/api/campaigns/{calls['spring']}/report").json()
    assert "김민준" not in str(report)
    assert login(app, "sup").get(f"/api/calls/{calls['ids'][0]}").json()["name"] == "김민준"


def test_filters_are_kept_from_the_list_to_a_call_and_back(app: Any,
                                                           calls: dict[str, Any]) -> None:
    mina = login(app, "mina")
    ids = calls["ids"]
    query = {"campaign": str(calls["spring"]), "disposition": "opt_out",
             "start": "2026-03-02", "end": "2026-03-02"}
    page = mina.get("/calls", params=query).text
    assert rows(page) == [str(ids[3]), str(ids[1])]  # newest first, spring's opt-outs only
    link = page.split(f'<a href="/calls/{ids[3]}?', 1)[1].split('"', 1)[0]
    kept = {k: v[0] for k, v in parse_qs(link.replace("&amp;", "&")).items()}
    assert kept == query
    call = mina.get(f"/calls/{ids[3]}?{link.replace('&amp;', '&')}").text
    back = call.split('id="back"', 1)[0].rsplit('href="', 1)[1].split('"', 1)[0]
    assert urlsplit(back.replace("&amp;", "&")).path == "/calls"
    assert {k: v[0] for k, v in parse_qs(urlsplit(back.replace("&amp;", "&")).query
                                         ).items()} == query
    # the next call of the same list (the older one); none newer
    assert f'href="/calls/{ids[1]}?' in call and 'id="older"' in call
    assert 'id="newer"' not in call
    older = mina.get(f"/calls/{ids[1]}", params=query).text
    assert f'href="/calls/{ids[3]}?' in older and 'id="older"' not in older
    # no filters: every call is a neighbour
    plain = mina.get(f"/calls/{ids[2]}").text
    assert f'href="/calls/{ids[3]}"' in plain and f'href="/calls/{ids[1]}"' in plain
    assert 'href="/calls" id="back"' in plain
    # hostile filters on a call's page: the call is shown, the filters dropped
    for bad in ({"start": "soon"}, {"tz": "Mars/Olympus"}, {"campaign": "-1"},
                {"campaign": str(2**64)}, {"name": "x" * 5000},
                {"phone": "1"}, {"disposition": "<script>"}):
        r = mina.get(f"/calls/{ids[2]}", params=bad)
        assert r.status_code == 200 and 'href="/calls" id="back"' in r.text, bad
        assert "<script>" not in r.text.split("<main>")[1]


def test_the_list_links_campaigns_and_exports_the_calls_found(app: Any,
                                                              calls: dict[str, Any]) -> None:
    mina, sup = login(app, "mina"), login(app, "sup")
    query = {"campaign": str(calls["spring"]), "disposition": "interested",
             "phone": "0001"}
    page = mina.get("/calls", params=query).text
    assert f'<a href="/campaigns/{calls["spring"]}">spring</a>' in page
    export = page.split('id="export" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    got = mina.get(export)
    assert got.status_code == 303 and got.headers["location"].startswith("/api/cdr.csv?")
    csv_text = mina.get(got.headers["location"]).text.lstrip("\ufeff").splitlines()
    assert len(csv_text) == 2 and csv_text[1].startswith(f"{calls['ids'][0]},spring,")
    # the name and the intent go to the export too: the file has the calls the list
    # shows, and a call still queued (not dialed yet) is in neither
    with app.state.db.session() as s:
        s.add(CallAttempt(campaign_id=calls["spring"], contact_id=1, attempt_no=2,
                          status="queued", created_at=T0 + timedelta(minutes=9)))
    wanted = {"campaign": str(calls["spring"]), "name": "김민", "intent": "ask_price"}
    listed = mina.get("/calls", params=wanted).text
    assert len(rows(listed)) == 2
    export = listed.split('id="export" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert parse_qs(urlsplit(export).query)["intent"] == ["ask_price"]
    went = mina.get(export).headers["location"]
    assert parse_qs(urlsplit(went).query)["name"] == ["김민"]
    got_rows = mina.get(went).text.lstrip("\ufeff").splitlines()[1:]
    assert sorted(int(r.split(",")[0]) for r in got_rows) == [calls["ids"][0], calls["ids"][4]]
    everything = mina.get("/api/cdr.csv").text.lstrip("\ufeff").splitlines()[1:]
    assert len(everything) == len(calls["ids"])  # the queued one is not a call yet
    assert len(mina.get("/api/cdr.csv", params={"intent": "deny"}).text.splitlines()) == 1
    # who sees names by their first letter exports by name no more than searches by one
    refused = login(app, "ana").get("/api/cdr.csv", params={"name": "김"})
    assert refused.status_code == 400 and "first letter" in refused.json()["detail"]
    assert "does not filter" not in page
    # a supervisor may not open campaign pages: no link to one
    assert "/campaigns/" not in sup.get("/calls").text.split("<main>")[1]
    assert sup.get(f"/campaigns/{calls['spring']}").status_code == 403


def test_talk_time_steps_and_speakers_in_words(app: Any, calls: dict[str, Any]) -> None:
    mina = login(app, "mina")
    page = mina.get("/calls").text
    assert '<td class="num">46 s</td>' in page  # 45.6 s
    assert '<td class="num">1 min 06 s</td>' in page  # 65.6 s
    assert '<td class="step">opt out close</td>' in page and "opt_out_close" not in page
    assert ">Opted out<" in page and ">Interested<" in page and ">Asked the price<" in page
    assert "ask_price</" not in page
    call = mina.get(f"/calls/{calls['ids'][1]}").text
    assert '<dd id="talk">1 min 06 s</dd>' in call
    assert '<dd id="last-step">opt out close</dd>' in call
    assert [w.split("<", 1)[0] for w in call.split('<td class="who">')[1:]] == [
        "Robot", "Customer", "Agent"]
    assert ">bot<" not in call
    # each turn carries its time from the answer, for the player
    assert 'data-offset-ms="3400"' in call and 'data-offset-ms="0"' in call


def test_bad_filters_are_said_in_sentences(app: Any, calls: dict[str, Any]) -> None:
    mina = login(app, "mina")
    cases = {"start=2026-03-09&end=2026-03-01": "The range ends before it starts",
             "start=yesterday": "bad date", "campaign=abc": "Choose the campaign",
             "campaign=１２": "Choose the campaign", "campaign=0": "Choose the campaign",
             "phone=12": "at least the last 4 digits"}
    for query, said in cases.items():
        r = mina.get(f"/calls?{query}")
        assert r.status_code == 200 and said in r.text, query
        assert rows(r.text) == [] and "Traceback" not in r.text
    big = mina.get("/calls", params={"campaign": str(2**63)})
    assert big.status_code == 422 and "out of range" in big.text  # the app's own page
    assert mina.get(f"/calls/1?campaign={2**63}").status_code == 200  # filter dropped
    assert login(app, "ana").get("/api/calls", params={"phone": "11110001"}).status_code == 400
    html = login(app, "ana").get("/calls", params={"phone": "11110001"}).text
    assert "last 4 digits of a number at most" in html and "analyst may" not in html
