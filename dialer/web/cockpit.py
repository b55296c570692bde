"""A campaign's page as marketing's cockpit: where the campaign stands (contacts done,
what happened to them, live), what the callees will hear (the script's prompts rendered
for the first contact), whether it is ready to dial (a call list in, a dry-run passed,
the calling window open now), and what Start and Stop will do, said in full before
either is done.

The page asks `cockpit` for all of it, in the page's language (`lang`: every sentence
here is English text looked up in dialer/web/locale/); its script polls `live`
(dialer/web/routes/cockpit.py) while the campaign runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from campaigns.db import Database
from campaigns.lifecycle import contact_zones, progress
from campaigns.models import Contact
from campaigns.privacy import FULL_PHONE_ROLES
from campaigns.windows import CallWindow, WindowError, next_call_time
from dialer.conversation.script import ScriptError
from dialer.web.i18n import said
from dialer.web.i18n import translate as _t
from dialer.web.words import disposition_colour, disposition_word

# Actions that dial people (or end the campaign for good): asked twice.
CONFIRMED = ("start", "resume", "stop")
# Prompts shown on the page, the start node's first: enough to hear the script's voice.
MAX_PROMPTS = 12
# What Start and Resume will do, with the campaign's days or without.
_SAID = {
    ("start", False): "Starting dials {who} between {start} and {end} {where}, up to {most} "
                      "at a time.",
    ("resume", False): "Resuming dials {who} between {start} and {end} {where}, up to {most} "
                       "at a time.",
    ("start", True): "Starting dials {who} between {start} and {end} {where}, from {first} to "
                     "{last}, up to {most} at a time.",
    ("resume", True): "Resuming dials {who} between {start} and {end} {where}, from {first} "
                      "to {last}, up to {most} at a time.",
}


@dataclass(frozen=True)
class Check:
    """One line of the pre-launch checklist: ok, a warning (may start), or a blocker."""

    name: str
    state: str  # ok | warn | todo
    text: str


def cockpit(db: Database, c: dict[str, Any], role: str,
            now: datetime | None = None, lang: str = "en") -> dict[str, Any]:
    """Everything the campaign page shows beyond the campaign's own settings."""
    now = now or datetime.now(UTC)
    live_now = live(db, c["id"], lang)
    zones = contact_zone_names(db, c["id"])
    return {"live": live_now, "script_name": Path(c["script_dir"]).name,
            "prompts": prompts(db, c, role, lang), "zones": zones,
            "checklist": checklist(db, c, live_now, zones, now, lang),
            "confirm": {a: confirmation(c, a, live_now, zones, lang) for a in CONFIRMED}}


def live(db: Database, campaign_id: int, lang: str = "en") -> dict[str, Any]:
    """Progress and the contacts' outcomes so far (their last disposition), in words."""
    p = progress(db, campaign_id)
    with db.session() as s:
        rows = s.execute(select(Contact.last_disposition, func.count()).where(
            Contact.campaign_id == campaign_id, Contact.last_disposition.is_not(None))
            .group_by(Contact.last_disposition)).all()
    counts = sorted(((str(d), int(n)) for d, n in rows), key=lambda dn: (-dn[1], dn[0]))
    outcomes = [{"code": d, "label": disposition_word(d, lang), "colour": disposition_colour(d),
                 "count": n} for d, n in counts]
    return {**p, "pending": p["total"] - p["done"] - p["in_progress"], "outcomes": outcomes}


def contact_zone_names(db: Database, campaign_id: int, most: int = 5) -> list[str]:
    """The time zones the campaign's contacts are in, the most common first."""
    with db.session() as s:
        rows = s.execute(select(Contact.timezones, func.count()).where(
            Contact.campaign_id == campaign_id).group_by(Contact.timezones)).all()
    counts: dict[str, int] = {}
    for text, n in rows:
        for z in contact_zones(text):
            counts[z] = counts.get(z, 0) + int(n)
    return sorted(counts, key=lambda z: -counts[z])[:most]


def prompts(db: Database, c: dict[str, Any], role: str, lang: str = "en") -> dict[str, Any]:
    """The script's prompts as the first contact would hear them (a name is shown only
    to the roles that see whole numbers), or why the script cannot be read."""
    from dialer.conversation.kit import read_campaign

    try:
        script, _ = read_campaign(c["script_dir"])
    except (ScriptError, OSError) as exc:
        return {"error": _t(lang, "The script “{name}” cannot be read: {why}",
                            name=Path(c["script_dir"]).name,
                            why=str(exc).split(": ", 1)[-1]), "nodes": []}
    with db.session() as s:
        first = s.scalars(select(Contact).where(Contact.campaign_id == c["id"])
                          .order_by(Contact.id).limit(1)).first()
        fields = dict(first.fields or {}) if first is not None else {}
    if role not in FULL_PHONE_ROLES:
        fields = {k: (str(v)[:1] + "•" * max(len(str(v)) - 1, 1)) if v else v
                  for k, v in fields.items()}
    order = [script.start] + [n for n in script.nodes if n != script.start]
    nodes = [{"node": n, "text": script.render(n, fields), "end": script.nodes[n].end,
              "handoff": script.nodes[n].handoff} for n in order[:MAX_PROMPTS]]
    return {"error": None, "nodes": nodes, "fields": fields, "has_contact": first is not None,
            "more": max(0, len(order) - MAX_PROMPTS)}


def window_now(c: dict[str, Any], zones: list[str], now: datetime, lang: str = "en") -> Check:
    """Is the calling window open now where the contacts are?"""
    start, _, end = c["window"].partition("-")
    try:
        nxt = next_call_time(now, zones, CallWindow.parse(start, end, c["first_day"],
                                                          c["last_day"]))
    except WindowError as exc:
        return Check("window", "todo", said(lang, exc))
    where = ", ".join(zones) if zones else "UTC"
    hours = c["window"].replace("-", "–")
    if nxt is None:
        return Check("window", "todo", _t(lang, "The campaign's last day has passed ({where}): "
                                                "nobody would be called. Change its days.",
                                          where=where))
    if nxt <= now:
        return Check("window", "ok", _t(lang, "The calling window is open now ({hours} in "
                                              "{where}).", hours=hours, where=where))
    wait = nxt - now
    h, m = divmod(int(wait.total_seconds() // 60), 60)
    return Check("window", "warn", _t(lang, "The calling window is closed now ({hours} in "
                                            "{where}): the first calls go out in {h} h {m} min.",
                                      hours=hours, where=where, h=h, m=m))


def checklist(db: Database, c: dict[str, Any], now_live: dict[str, Any], zones: list[str],
              now: datetime, lang: str = "en") -> list[Check]:
    from dialer.web.routes.dry_runs import dry_runs, verdict_text

    imports = c["imports"]
    busy = [b for b in imports if b["status"] not in ("done", "failed")]
    if now_live["total"] and not busy:
        lists = Check("list", "ok", _t(lang, "{n} contacts imported from 1 list."
                                       if len(imports) == 1 else
                                       "{n} contacts imported from {lists} lists.",
                                       n=now_live["total"], lists=len(imports)))
    elif busy:
        lists = Check("list", "warn", _t(lang, "1 list is still being imported or waits for "
                                               "its columns." if len(busy) == 1 else
                                               "{n} lists are still being imported or wait "
                                               "for their columns.", n=len(busy)))
    else:
        lists = Check("list", "todo", _t(lang, "No contacts yet: add a call list."))
    if c["dry_run"]:
        rehearsed = Check("dry-run", "ok", _t(lang, "This is a dry-run campaign: simulated "
                                                    "customers, nobody is dialed."))
    else:
        runs = dry_runs(db, c["id"])
        verdict = runs[0]["verdict"] if runs else None
        if verdict is None:
            rehearsed = Check("dry-run", "warn", _t(lang, "No dry-run yet: rehearse with "
                                                          "simulated customers before dialing "
                                                          "people."))
        elif verdict["ok"]:
            rehearsed = Check("dry-run", "ok", _t(lang, "The last dry-run passed: {verdict}",
                                                  verdict=verdict_text(verdict, lang)))
        else:
            rehearsed = Check("dry-run", "warn", _t(lang, "The last dry-run did not pass: "
                                                          "{verdict}",
                                                    verdict=verdict_text(verdict, lang)))
    return [lists, rehearsed, window_now(c, zones, now, lang)]


def confirmation(c: dict[str, Any], action: str, now_live: dict[str, Any],
                 zones: list[str], lang: str = "en") -> str:
    """What the action will do, in a sentence said before it is done."""
    left = now_live["pending"] + now_live["in_progress"]
    people = _t(lang, "1 person") if left == 1 else _t(lang, "{n} people", n=left)
    where = (_t(lang, "their time ({zones})", zones=", ".join(zones)) if zones
             else _t(lang, "their time"))
    start, _, end = c["window"].partition("-")
    if action in ("start", "resume"):
        who = (_t(lang, "simulated customers (a dry-run: nobody is dialed)") if c["dry_run"]
               else people)
        values = {"who": who, "start": start, "end": end, "where": where,
                  "most": c["max_concurrent"], "first": c["first_day"] or _t(lang, "today"),
                  "last": c["last_day"] or _t(lang, "the end of the list")}
        return _t(lang, _SAID[action, bool(c["first_day"] or c["last_day"])], **values)
    return _t(lang, "Stopping ends the campaign for good: the {people} not yet reached will "
                    "not be called, and it cannot be started again. To stop for a while, "
                    "pause it.", people=people)
