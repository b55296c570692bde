"""When a contact may be called: the campaign's daily window in the callee's own time
zone, inside the legal bounds, between the campaign's start and end dates.

A number whose country spans several zones (phonenumbers gives e.g. four for a US
number whose area code it cannot place) may only be called when the window is open in
every one of them: we never call someone at 7 in the morning because we guessed their
zone wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_tz

from campaigns.refusals import Phrase, Refusal

LEGAL_START, LEGAL_END = time(8, 0), time(21, 0)  # never outside, whatever is configured
DEFAULT_START, DEFAULT_END = time(9, 0), time(20, 0)


class WindowError(Refusal, ValueError):
    """A window or zone the campaign cannot use, with what to write instead."""


def parse_hhmm(text: str, what: str | None = None) -> time:
    """`what` names the time in the refusal (a Phrase, so a page says it in its
    language); "time" when not given."""
    try:
        hours, minutes = text.strip().split(":")
        return time(int(hours), int(minutes))
    except (ValueError, AttributeError):
        raise WindowError("{what} {text!r} must be HH:MM, e.g. 09:00",
                          what=what or Phrase("time"), text=text) from None


@dataclass(frozen=True)
class CallWindow:
    start: time = DEFAULT_START
    end: time = DEFAULT_END
    first_day: date | None = None  # the campaign's schedule, in the callee's calendar
    last_day: date | None = None

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise WindowError("the call window {start:%H:%M}-{end:%H:%M} must end after "
                              "it starts", start=self.start, end=self.end)
        if self.start < LEGAL_START or self.end > LEGAL_END:
            raise WindowError("the call window {start:%H:%M}-{end:%H:%M} goes outside "
                              "{legal_start:%H:%M}-{legal_end:%H:%M}, the hours the law "
                              "allows calls in the callee's time zone",
                              start=self.start, end=self.end, legal_start=LEGAL_START,
                              legal_end=LEGAL_END)
        if self.first_day and self.last_day and self.first_day > self.last_day:
            raise WindowError("the campaign ends ({last_day}) before it starts "
                              "({first_day})", last_day=self.last_day,
                              first_day=self.first_day)

    @classmethod
    def parse(cls, start: str = "09:00", end: str = "20:00", first_day: date | None = None,
              last_day: date | None = None) -> CallWindow:
        return cls(parse_hhmm(start, Phrase("window start")),
                   parse_hhmm(end, Phrase("window end")),
                   first_day, last_day)


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise WindowError("unknown time zone {name!r}; use an IANA name such as "
                          "Asia/Seoul or America/New_York", name=name) from None


def zones_for_number(e164: str) -> tuple[str, ...]:
    """The IANA zones a number may be in (empty when phonenumbers does not know).

    For a valid E.164 number of a country that lies in one zone (Korea, China, most of
    the world) the answer is that zone without parsing the number: an import of a
    million numbers spends no time here."""
    single = _single_zone_country(e164)
    if single is not None:
        return (single,)
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return ()
    names = phone_tz.time_zones_for_number(parsed)
    return tuple(n for n in names if n and n != phone_tz.UNKNOWN_TIMEZONE)


def _single_zone_country(e164: str) -> str | None:
    if not e164.startswith("+"):
        return None
    for length in (1, 2, 3):  # country codes have 1 to 3 digits and are prefix-free
        code = e164[1:1 + length]
        if code.isdigit() and int(code) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return _country_zone(code)
    return None


@lru_cache(maxsize=512)
def _country_zone(code: str) -> str | None:
    """The zone of every number of this country code, if they all share one."""
    from phonenumbers.tzdata import TIMEZONE_DATA

    zones = {z for prefix, names in TIMEZONE_DATA.items() if prefix.startswith(code)
             for z in names if z != phone_tz.UNKNOWN_TIMEZONE}
    return next(iter(zones)) if len(zones) == 1 else None


def _open_in(at: datetime, tz: ZoneInfo, w: CallWindow) -> bool:
    local = at.astimezone(tz)
    if w.first_day and local.date() < w.first_day:
        return False
    if w.last_day and local.date() > w.last_day:
        return False
    return w.start <= local.time() < w.end


def _local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The instant of local `day at` in `tz`; a wall time skipped by a DST change maps
    to the first instant after the gap (zoneinfo's fold=0 rule lands before it)."""
    naive = datetime.combine(day, at)
    candidate = naive.replace(tzinfo=tz)
    back = candidate.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if back != naive:  # in a gap: move forward by the gap
        candidate = (naive + (naive - back)).replace(tzinfo=tz)
    return candidate.astimezone(UTC)


def _next_open_in(at: datetime, tz: ZoneInfo, w: CallWindow) -> datetime | None:
    """The first instant >= `at` when the window is open in `tz` (None: never again)."""
    if _open_in(at, tz, w):
        return at
    day = at.astimezone(tz).date()
    if w.first_day and day < w.first_day:
        day = w.first_day
    for _ in range(3):  # today's opening, tomorrow's, or (DST edge) the day after
        if w.last_day and day > w.last_day:
            return None
        opening = _local_instant(day, w.start, tz)
        if opening >= at and _open_in(opening, tz, w):
            return opening
        day += timedelta(days=1)
    return None


def next_call_time(now: datetime, zones: Sequence[str], window: CallWindow,
                   fallback_zone: str = "UTC") -> datetime | None:
    """`now` if the window is open in every zone of the callee, else the first instant
    after it when it is; None when the campaign's last day has passed for them."""
    tzs = [zone(z) for z in (zones or (fallback_zone,))]
    at = now.astimezone(UTC)
    for _ in range(10 * len(tzs) + 10):
        moved = False
        for tz in tzs:
            nxt = _next_open_in(at, tz, window)
            if nxt is None:
                return None
            if nxt != at:
                at, moved = nxt, True
        if not moved:
            return at
    return None  # zones whose windows never overlap (e.g. Hawaii and Guam at once)
