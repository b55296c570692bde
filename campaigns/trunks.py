"""The SIP trunks campaigns may dial through: a list admins keep, campaigns pick by name.

A campaign used to carry its trunk as free text (any host:port) and the workers answered
that host's digest challenge with the production credentials (realm `*`): whoever could
edit a campaign could send the trunk password's digest to a server of their own (toll
fraud) or make the workers reach internal hosts. Now a trunk is a row only an admin
writes: where calls go, the credentials and the one realm they answer, and the caller
IDs the carrier allows on it (`+` and digits). A campaign names a trunk and picks one of
its caller IDs, or neither (the workers' own DIALER_SIP_* trunk and caller ID). The
password is never shown back, only whether one is set.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.db import Database
from campaigns.models import Campaign, Trunk
from campaigns.refusals import Phrase, Refusal
from campaigns.statuses import CampaignStatus

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9-]{1,63})*"
                  r"|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$")
SIP_HOST_URI = re.compile(r"^sips?:(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])"
                          r"(?::[0-9]{1,5})?(?:;lr)?$")
CALLER_ID = re.compile(r"^\+[1-9][0-9]{5,14}$")  # E.164: + and 6 to 15 digits
CREDENTIAL = re.compile(r"^[\x21-\x7e]{1,128}$")  # printable ASCII, no spaces
REALM = re.compile(r"^[A-Za-z0-9._-]{1,255}$")
TRANSPORTS = ("udp", "tcp")
MAX_CALLER_IDS = 100
FINAL = (CampaignStatus.STOPPED, CampaignStatus.FINISHED)


class TrunkError(Refusal, ValueError):
    """A trunk or a campaign's choice of one that cannot be used; the message says how
    to fix it."""


def _port_ok(text: str) -> bool:
    port = text.rsplit("]", 1)[-1].rpartition(":")[2] if ":" in text.rsplit("]", 1)[-1] else ""
    return not port or 1 <= int(port) <= 65535


def check_caller_id(caller_id: str) -> str:
    caller_id = caller_id.strip()
    if not CALLER_ID.match(caller_id):
        raise TrunkError("caller ID {caller_id!r} must be + and 6 to 15 digits, "
                         "e.g. +8215880000", caller_id=caller_id[:40])
    return caller_id


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    """A trunk's fields as given, checked; raises TrunkError naming the field and fix."""
    out: dict[str, Any] = {}
    host = str(fields.get("host") or "").strip()
    if not HOST.match(host) or not _port_ok(host):
        raise TrunkError("host {host!r} must be host or host:port, e.g. "
                         "sip.carrier.example:5060", host=host[:80])
    out["host"] = host
    transport = str(fields.get("transport") or "udp").strip().lower()
    if transport not in TRANSPORTS:
        raise TrunkError("transport {transport!r}: one of {choices}",
                         transport=transport[:20], choices=TRANSPORTS)
    out["transport"] = transport
    for key, field, example in (
            ("registrar", Phrase("registrar"), "sip:sip.carrier.example"),
            ("outbound_proxy", Phrase("outbound proxy"), "sip:proxy.carrier.example;lr")):
        value = str(fields.get(key) or "").strip() or None
        if value is not None and not SIP_HOST_URI.match(value):
            raise TrunkError("{field} {value!r} must be a SIP URI of a host, e.g. {example}",
                             field=field, value=value[:80], example=example)
        out[key] = value
    username = str(fields.get("username") or "").strip() or None
    if username is not None and not CREDENTIAL.match(username):
        raise TrunkError("user name: 1 to 128 printable characters without spaces")
    out["username"] = username
    realm = str(fields.get("realm") or "").strip() or None
    # The one realm the credentials answer: never `*`, which would answer a challenge
    # from anyone on the path.
    if username is not None and (realm is None or not REALM.match(realm)):
        raise TrunkError("a trunk with credentials needs its digest realm (what the "
                             "carrier's 401 names, e.g. sip.carrier.example); `*` is not "
                             "allowed")
    out["realm"] = realm
    ids = fields.get("caller_ids") or []
    if isinstance(ids, str):
        ids = [x for x in re.split(r"[,\s]+", ids) if x]
    if not isinstance(ids, list) or len(ids) > MAX_CALLER_IDS:
        raise TrunkError("caller IDs: a list of at most {n}", n=MAX_CALLER_IDS)
    out["caller_ids"] = sorted({check_caller_id(str(x)) for x in ids})
    return out


def save_trunk(db: Database, name: str, fields: dict[str, Any], by: str,
               password: str | None = None, clear_password: bool = False) -> int:
    """Create the trunk `name` or replace its settings. The password is changed only
    when one is given (or cleared on request), so editing a trunk never shows it."""
    name = name.strip()
    if not NAME.match(name):
        raise TrunkError("trunk name {name!r}: 1-64 letters, digits, . _ - "
                         "(starting with a letter or digit)", name=name[:80])
    clean = _clean(fields)
    if password is not None and password != "" and not CREDENTIAL.match(password):
        raise TrunkError("password: 1 to 128 printable characters without spaces")
    with db.session() as s:
        trunk = s.scalar(select(Trunk).where(Trunk.name == name))
        if trunk is None:
            trunk = Trunk(name=name)
            s.add(trunk)
        for key, value in clean.items():
            setattr(trunk, key, value)
        if password:
            trunk.password = password
        elif clear_password:
            trunk.password = None
        if trunk.username is None:
            trunk.password = None
        trunk.updated_by = by[:64]
        s.flush()
        in_use = _campaigns_using(s, name)
        lost = [Phrase("campaign {id} ({caller_id})", id=cid, caller_id=cid_caller)
                for cid, cid_caller in in_use
                if cid_caller and cid_caller not in clean["caller_ids"]]
        if lost:
            raise TrunkError("these campaigns use a caller ID this change removes: {lost}; "
                             "change them first", lost=lost)
        return trunk.id


def _campaigns_using(s: Session, name: str) -> list[tuple[int, str | None]]:
    return [(cid, caller) for cid, caller in s.execute(
        select(Campaign.id, Campaign.caller_id).where(Campaign.trunk == name,
                                                      Campaign.status.not_in(FINAL)))]


def delete_trunk(db: Database, name: str) -> None:
    with db.session() as s:
        trunk = s.scalar(select(Trunk).where(Trunk.name == name))
        if trunk is None:
            raise TrunkError("no trunk named {name!r}", name=name[:80])
        users = _campaigns_using(s, name)
        if users:
            raise TrunkError("trunk {name!r} is used by campaign(s) {ids}; stop them or "
                             "pick another trunk first", name=name, ids=[c for c, _ in users])
        s.delete(trunk)


def public(t: Trunk) -> dict[str, Any]:
    """A trunk as people see it: everything but the password."""
    return {"id": t.id, "name": t.name, "host": t.host, "transport": t.transport,
            "registrar": t.registrar, "outbound_proxy": t.outbound_proxy,
            "username": t.username, "realm": t.realm, "has_password": bool(t.password),
            "caller_ids": list(t.caller_ids or []), "updated_by": t.updated_by}


def list_trunks(db: Database) -> list[dict[str, Any]]:
    with db.session() as s:
        return [public(t) for t in s.scalars(select(Trunk).order_by(Trunk.name))]


def check_choice(s: Session, trunk: str | None, caller_id: str | None) -> None:
    """A campaign's trunk and caller ID: a trunk on the admins' list, and one of its
    caller IDs (or none: the trunk's first, or the workers' DIALER_SIP_CALLER_ID)."""
    if trunk is None:
        if caller_id is not None:
            raise TrunkError("a caller ID is chosen with its trunk: pick a trunk whose "
                             "allowed caller IDs include it (an admin keeps the list)")
        return
    row = s.scalar(select(Trunk).where(Trunk.name == trunk))
    if row is None:
        raise TrunkError("no trunk named {name!r}; pick one an admin has set up "
                         "(Admin → Trunks), or leave it empty for the workers' trunk",
                         name=trunk[:80])
    if caller_id is not None and caller_id not in (row.caller_ids or []):
        raise TrunkError("caller ID {caller_id!r} is not allowed on trunk {name!r} "
                         "(allowed: {allowed})", caller_id=caller_id, name=trunk,
                         allowed=list(row.caller_ids or []) or Phrase("none"))


def for_call(db: Database, name: str) -> dict[str, Any]:
    """Everything a worker needs to dial through the trunk, the password included."""
    with db.session() as s:
        row = s.scalar(select(Trunk).where(Trunk.name == name))
        if row is None:
            raise TrunkError("trunk {name!r} is no longer on the admins' list", name=name)
        return {**public(row), "password": row.password}
