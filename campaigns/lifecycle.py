"""A campaign's life: made (as a draft), checked and edited, started, paused, stopped,
finished; its progress and the list of campaigns.

Every function takes a Database (or a Session) made by a composition root.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from campaigns import trunks
from campaigns.db import Database
from campaigns.models import Campaign, Contact, utcnow
from campaigns.refusals import Code, Phrase, Refusal
from campaigns.statuses import RETRYABLE_DISPOSITIONS, CampaignStatus, ContactStatus
from campaigns.windows import CallWindow, WindowError


class CampaignError(Refusal, ValueError):
    """A request the operator can correct; the message says how."""


def new_campaign(s: Session, name: str, script_dir: Path, region: str,
                  options: dict[str, Any]) -> int:
    name = name.strip()
    if not name:
        raise CampaignError("the campaign needs a name")
    if s.scalar(select(Campaign.id).where(Campaign.name == name)) is not None:
        raise CampaignError("a campaign named {name!r} already exists; choose another name",
                            name=name)
    options = check_options(options)
    _check_trunk(s, options.get("trunk"), options.get("caller_id"))
    options.setdefault("language", script_language(script_dir))
    campaign = Campaign(name=name, script_dir=str(Path(script_dir).resolve()),
                        region=region.upper(), **options)
    s.add(campaign)
    s.flush()
    return campaign.id


def script_language(script_dir: Path | str) -> str:
    """The language a script declares (script.yml `language`, default ko)."""
    import yaml

    try:
        data = yaml.safe_load((Path(script_dir) / "script.yml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return "ko"
    return str((data or {}).get("language", "ko")) if isinstance(data, dict) else "ko"


# What a draft or paused campaign may change (the list is imported, not edited here).
EDITABLE = frozenset({
    "name", "script_dir", "region", "caller_id", "voice", "trunk", "max_concurrent",
    "max_attempts", "retry_delay_s", "ring_timeout_s", "window_start", "window_end",
    "first_day", "last_day", "max_cps", "retry_delays"})


MAX_RETRY_DELAY_S = 30 * 86400  # a month: the bound of retry_delay_s and of each per-disposition delay


def _check_trunk(s: Session, trunk: str | None, caller_id: str | None) -> None:
    try:
        trunks.check_choice(s, trunk, caller_id)
    except trunks.TrunkError as exc:
        raise CampaignError.again(exc) from None


def check_options(options: dict[str, Any]) -> dict[str, Any]:
    """Refuse settings that cannot work, naming the fix; returns them cleaned."""
    out = dict(options)
    limits = {"max_concurrent": (1, 100_000), "max_attempts": (1, 10),
              "retry_delay_s": (0, MAX_RETRY_DELAY_S), "ring_timeout_s": (5, 120)}
    for key, (low, high) in limits.items():
        if key in out and not (isinstance(out[key], int) and low <= out[key] <= high):
            raise CampaignError("{key} {value!r} must be a whole number from {low} to {high}",
                                key=key, value=out[key], low=low, high=high)
    for key in ("caller_id", "voice", "trunk"):
        if key in out:
            out[key] = (str(out[key]).strip() or None) if out[key] is not None else None
    if out.get("trunk") and not trunks.NAME.match(out["trunk"]):
        raise CampaignError("trunk {trunk!r} is not a trunk's name; pick one an admin has "
                            "set up, or leave it empty for the workers' trunk",
                            trunk=out["trunk"][:80])
    if out.get("caller_id"):
        try:
            out["caller_id"] = trunks.check_caller_id(out["caller_id"])
        except trunks.TrunkError as exc:
            raise CampaignError.again(exc) from None
    if out.get("voice") and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_+/.-]{0,63}",
                                             out["voice"]):
        raise CampaignError("voice {voice!r}: an espeak-ng voice name such as ko or "
                            "gmw/en-us (letters, digits, _ + / . -, at most 64)",
                            voice=out["voice"][:80])
    if "retry_delays" in out:
        out["retry_delays"] = check_retry_delays(out["retry_delays"])
    return out


def check_retry_delays(delays: object) -> dict[str, int] | None:
    """Seconds before a retry per disposition, with the same bounds as retry_delay_s: an
    unbounded one made finish_attempt fail and left the attempt holding a line."""
    if delays is None or delays == {}:
        return None
    if not isinstance(delays, dict):
        raise CampaignError("retry delays must map a disposition to seconds, e.g. "
                            "{\"busy\": 300}")
    out: dict[str, int] = {}
    for name, seconds in delays.items():
        if name not in RETRYABLE_DISPOSITIONS:
            raise CampaignError("retry delay for {name!r}: only {retried} are retried",
                                name=str(name)[:40], retried=_retried())
        if isinstance(seconds, bool) or not isinstance(seconds, int) \
                or not 0 <= seconds <= MAX_RETRY_DELAY_S:
            raise CampaignError("retry delay for {name} {seconds!r} must be a whole "
                                "number of seconds from 0 to {most}",
                                name=Code(name, "disposition"), seconds=str(seconds)[:40],
                                most=MAX_RETRY_DELAY_S)
        out[str(name)] = seconds
    return out


def _retried() -> list[Code]:
    """The dispositions a contact is retried after, as codes a page says in words."""
    return [Code(d, "disposition") for d in sorted(RETRYABLE_DISPOSITIONS)]


def update_campaign(db: Database, campaign_id: int, changes: dict[str, Any]) -> None:
    """Edit a draft or paused campaign (a running one is paused first: the calls under
    way keep the settings they started with)."""
    unknown = sorted(set(changes) - EDITABLE)
    if unknown:
        raise CampaignError("cannot change {unknown}; editable: {editable}",
                            unknown=unknown, editable=sorted(EDITABLE))
    changes = check_options(changes)
    with db.session() as s:
        c = get_campaign(s, campaign_id)
        if c.rehearsal_of is not None:
            raise CampaignError("a dry-run cannot be edited; edit its campaign and rehearse again")
        if c.status not in (CampaignStatus.DRAFT, CampaignStatus.PAUSED):
            hint = (Phrase("pause it first") if c.status == CampaignStatus.RUNNING
                    else Phrase("it is final; create a new campaign"))
            raise CampaignError("a {status} campaign cannot be edited; {hint}",
                                status=Code(c.status, "status"), hint=hint)
        if "trunk" in changes or "caller_id" in changes:
            _check_trunk(s, changes.get("trunk", c.trunk), changes.get("caller_id", c.caller_id))
        if "name" in changes:
            changes["name"] = str(changes["name"]).strip()
            if not changes["name"]:
                raise CampaignError("the campaign needs a name")
            if s.scalar(select(Campaign.id).where(Campaign.name == changes["name"],
                                                  Campaign.id != campaign_id)) is not None:
                raise CampaignError("a campaign named {name!r} already exists; choose "
                                    "another name", name=changes["name"])
        if "script_dir" in changes:
            changes["script_dir"] = str(Path(changes["script_dir"]).resolve())
            changes["language"] = script_language(changes["script_dir"])
        if "region" in changes:
            changes["region"] = str(changes["region"]).upper()
        for key, value in changes.items():
            setattr(c, key, value)


def create_draft(db: Database, *, name: str, script_dir: Path, region: str = "KR",
                 **options: Any) -> int:
    """A draft campaign without contacts yet (the web app imports its list afterwards,
    in the background)."""
    with db.session() as s:
        return new_campaign(s, name, script_dir, region, options)


def get_campaign(s: Session, campaign_id: int) -> Campaign:
    campaign = s.get(Campaign, campaign_id)
    if campaign is None:
        raise CampaignError("no campaign with id {campaign_id}; see `dialer campaign list`",
                            campaign_id=campaign_id)
    return campaign


# What each state may become. Paused keeps the queue (claims stop, calls in progress end
# normally); stopped is final: what was not dialed is never dialed.
TRANSITIONS: dict[str, dict[str, str]] = {
    CampaignStatus.DRAFT: {"start": CampaignStatus.RUNNING, "stop": CampaignStatus.STOPPED},
    CampaignStatus.RUNNING: {"pause": CampaignStatus.PAUSED, "stop": CampaignStatus.STOPPED,
                             "finish": CampaignStatus.FINISHED},
    CampaignStatus.PAUSED: {"resume": CampaignStatus.RUNNING, "stop": CampaignStatus.STOPPED},
    CampaignStatus.STOPPED: {},
    CampaignStatus.FINISHED: {},
}


def next_status(current: str, action: str) -> str:
    """The state `action` leads to from `current`, or a CampaignError naming what is
    possible."""
    allowed = TRANSITIONS.get(current, {})
    if action not in allowed:
        raise CampaignError("a {status} campaign cannot {action}; it can: {can}",
                            status=Code(current, "status"), action=Code(action, "action"),
                            can=[Code(a, "action") for a in sorted(allowed)]
                            or Phrase("nothing (it is final)"))
    return allowed[action]


def change_status(db: Database, campaign_id: int, action: str) -> str:
    """Apply start/pause/resume/stop (checked, atomic: a concurrent change loses)."""
    with db.session() as s:
        c = get_campaign(s, campaign_id)
        current = c.status
        target = next_status(current, action)
        values: dict[str, Any] = {"status": target}
        if target == CampaignStatus.RUNNING and c.started_at is None:
            values["started_at"] = utcnow()
        if target in (CampaignStatus.STOPPED, CampaignStatus.FINISHED):
            values["finished_at"] = utcnow()
        won = s.execute(update(Campaign).where(Campaign.id == campaign_id,
                                               Campaign.status == current).values(**values))
        if won.rowcount != 1:  # type: ignore[attr-defined]
            raise CampaignError("campaign {campaign_id} changed meanwhile; look again",
                                campaign_id=campaign_id)
        return target


def start_campaign(db: Database, campaign_id: int) -> None:
    with db.session() as s:
        status = get_campaign(s, campaign_id).status
    change_status(db, campaign_id, "resume" if status == CampaignStatus.PAUSED else "start")


def list_campaigns(db: Database, rehearsals: bool = True) -> list[dict[str, Any]]:
    """Every campaign; `rehearsals=False` leaves out dry-runs made to rehearse another
    (they are listed on their campaign's dry-run page)."""
    query = select(Campaign, func.count(Contact.id)).outerjoin(Contact)
    if not rehearsals:
        query = query.where(Campaign.rehearsal_of.is_(None))
    with db.session() as s:
        rows = s.execute(query.group_by(Campaign.id).order_by(Campaign.id)).all()
        return [{"id": c.id, "name": c.name, "status": c.status, "contacts": n,
                 "script_dir": c.script_dir, "created_at": c.created_at.isoformat(),
                 "rehearsal_of": c.rehearsal_of}
                for c, n in rows]


def finish_campaigns(db: Database) -> list[int]:
    """Running campaigns with nothing left to dial or in progress become finished."""
    done = []
    with db.session() as s:
        for c in s.scalars(select(Campaign).where(Campaign.status == CampaignStatus.RUNNING)):
            open_contacts = s.scalar(select(func.count(Contact.id)).where(
                Contact.campaign_id == c.id, Contact.status != ContactStatus.DONE)) or 0
            if open_contacts == 0:
                c.status, c.finished_at = CampaignStatus.FINISHED, utcnow()
                done.append(c.id)
    return done


def progress(db: Database, campaign_id: int) -> dict[str, Any]:
    with db.session() as s:
        c = get_campaign(s, campaign_id)
        by_status = dict(s.execute(select(Contact.status, func.count()).where(
            Contact.campaign_id == campaign_id).group_by(Contact.status)).all())
        total = sum(by_status.values())
        return {"status": c.status, "total": total,
                "done": by_status.get(ContactStatus.DONE, 0),
                "in_progress": by_status.get(ContactStatus.CLAIMED, 0)}


def schedule_options(window: str, first_day: str | None, last_day: str | None,
                    max_cps: float, retry: list[str], dry_run: bool) -> dict[str, Any]:
    """A campaign's schedule options from what a person typed (command line or web form),
    checked: a window the law does not allow is refused, and so on."""
    def day(text: str | None, what: str) -> date | None:
        try:
            return date.fromisoformat(text) if text else None
        except ValueError:
            raise CampaignError("{what} {text!r} must be YYYY-MM-DD", what=what,
                                text=text) from None

    start, sep, end = window.partition("-")
    if not sep:
        raise CampaignError("--window {window!r} must be HH:MM-HH:MM, e.g. 09:00-20:00",
                            window=window)
    try:
        w = CallWindow.parse(start, end, day(first_day, "--first-day"),
                             day(last_day, "--last-day"))
    except WindowError as exc:
        raise CampaignError.again(exc) from None
    if not 0 < max_cps <= 100:
        raise CampaignError("--max-cps {max_cps} must be above 0 and at most 100",
                            max_cps=max_cps)
    delays: dict[str, int] = {}
    for item in retry:
        name, sep, seconds = item.partition("=")
        if not sep or not seconds.strip().isdigit() or len(seconds.strip()) > 12:
            raise CampaignError("--retry {item!r} must be DISPOSITION=SECONDS, e.g. busy=300",
                                item=item)
        if name not in RETRYABLE_DISPOSITIONS:
            raise CampaignError("--retry {name!r}: only {retried} are retried", name=name,
                                retried=_retried())
        delays[name] = int(seconds)
    delays = check_retry_delays(delays) or {}
    return {"window_start": f"{w.start:%H:%M}", "window_end": f"{w.end:%H:%M}",
            "first_day": w.first_day, "last_day": w.last_day, "max_cps": max_cps,
            "retry_delays": delays or None, "dry_run": dry_run}


def campaign_window(c: Campaign) -> CallWindow:
    return CallWindow.parse(c.window_start or "09:00", c.window_end or "20:00",
                            c.first_day, c.last_day)


def contact_zones(text: str | None) -> tuple[str, ...]:
    return tuple(z for z in (text or "").split(",") if z)
