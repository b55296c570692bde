"""What each person chooses for themselves: the time zone they read times in, and the
language of their pages.

Every page that shows a time, every date filter and every export uses one zone per
user: the one they chose, or else the zone of the app's default region
(CampaignSettings.default_region: "KR" is Asia/Seoul), or UTC when the region's
country spans several zones that no single answer fits.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime
from functools import lru_cache

import phonenumbers
from sqlalchemy import select, update

from campaigns.db import Database
from campaigns.models import User
from campaigns.refusals import Phrase, Refusal
from campaigns.windows import zones_for_number

MAX_ZONE_NAME = 64  # the column's width; IANA names are far shorter
# Offered first on the settings page: where this dialer's users and callees are.
COMMON_ZONES: tuple[str, ...] = (
    "Asia/Seoul", "Asia/Tokyo", "Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei",
    "Asia/Singapore", "Asia/Ho_Chi_Minh", "Asia/Kolkata", "Europe/London", "Europe/Paris",
    "Europe/Berlin", "America/New_York", "America/Chicago", "America/Los_Angeles",
    "Australia/Sydney", "UTC",
)


class PreferenceError(Refusal, ValueError):
    """A choice that cannot be kept, said as a sentence for the person who made it."""


@lru_cache(maxsize=1)
def all_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) | {"UTC"}


def zone_choices() -> list[str]:
    """Every zone a person may pick: the common ones first, then all in name order."""
    rest = sorted(all_zones() - set(COMMON_ZONES))
    return [z for z in COMMON_ZONES if z in all_zones()] + rest


def check_zone(name: str) -> str:
    """The zone's IANA name, stripped; PreferenceError for anything else."""
    text = name.strip() if isinstance(name, str) else ""
    if not text or len(text) > MAX_ZONE_NAME or text not in all_zones():
        shown = text[:40] + ("…" if len(text) > 40 else "")
        raise PreferenceError("“{zone}” is not a time zone we know: pick one from the "
                              "list, such as Asia/Seoul or UTC.", zone=shown)
    return text


@lru_cache(maxsize=64)
def region_zone(region: str) -> str:
    """The zone of a region (ISO 3166 code): its country's only zone, or the zone of its
    example number when the country spans several (US: America/New_York); UTC when
    nothing fits."""
    code = phonenumbers.country_code_for_region((region or "").upper())
    if not code:
        return "UTC"
    zones = zones_for_number(f"+{code}")
    if not zones:
        example = phonenumbers.example_number((region or "").upper())
        if example is not None:
            zones = zones_for_number(
                phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164))
    return zones[0] if len(zones) == 1 and zones[0] in all_zones() else "UTC"


def chosen_zone(db: Database, user_id: int) -> str | None:
    """The zone the user chose; None when they never did (or it is no longer known)."""
    with db.session() as s:
        name = s.scalar(select(User.time_zone).where(User.id == user_id))
    return name if name and name in all_zones() else None


def user_zone(db: Database, user_id: int, default_region: str) -> str:
    """The zone the user reads times in: theirs, else the default region's."""
    return chosen_zone(db, user_id) or region_zone(default_region)


def set_zone(db: Database, user_id: int, name: str | None) -> str | None:
    """Keep the user's zone (None or "": back to the default); the name kept."""
    kept = check_zone(name) if name and name.strip() else None
    with db.session() as s:
        s.execute(update(User).where(User.id == user_id).values(time_zone=kept))
    return kept


def zone_abbreviation(name: str, at: datetime | None = None) -> str:
    """The zone's short name now ("KST", "EST"); "" when it has only a number
    ("+07")."""
    short = (at or datetime.now(UTC)).astimezone(zoneinfo.ZoneInfo(name)).tzname() or ""
    return "" if not short or short[0] in "+-" or short == name else short


def zone_label(name: str, at: datetime | None = None) -> str:
    """"Asia/Seoul (KST)", or "Asia/Ho_Chi_Minh" when the zone has no short name."""
    short = zone_abbreviation(name, at)
    return f"{name} ({short})" if short else name


# The languages the pages are written in (dialer/web/locale holds all but English).
INTERFACE_LANGUAGES: dict[str, str] = {"en": "English", "ko": "한국어"}


def check_language(code: str | None) -> str | None:
    """The language's code ("en", "ko"), None for "the browser's"; PreferenceError for
    anything else."""
    text = code.strip().lower() if isinstance(code, str) else ""
    if not text:
        return None
    if text not in INTERFACE_LANGUAGES:
        names = list(INTERFACE_LANGUAGES.values())
        raise PreferenceError("“{language}” is not a language these pages are written in: "
                              "choose {languages}.", language=text[:20],
                              languages=Phrase("{some} or {last}", some=names[:-1],
                                               last=names[-1]))
    return text


def set_language(db: Database, user_id: int, code: str | None) -> str | None:
    kept = check_language(code)
    with db.session() as s:
        s.execute(update(User).where(User.id == user_id).values(language=kept))
    return kept


def chosen_language(db: Database, user_id: int) -> str | None:
    with db.session() as s:
        code = s.scalar(select(User.language).where(User.id == user_id))
    return code if code in INTERFACE_LANGUAGES else None
