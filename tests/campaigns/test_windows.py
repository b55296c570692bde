"""Call windows in the callee's time zone: examples, bad settings, and properties over
random instants, zones (DST ones included: New York, London, Lord Howe's half hour,
Chatham, Havana's midnight change) and windows."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.windows import CallWindow, WindowError, next_call_time, zones_for_number

SEOUL = ZoneInfo("Asia/Seoul")
DST_ZONES = ["America/New_York", "Europe/London", "Australia/Lord_Howe", "Pacific/Chatham",
             "America/Havana", "Asia/Seoul", "America/Los_Angeles", "Europe/Berlin",
             "America/Sao_Paulo", "Asia/Kolkata"]


def local(tz: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(tz)).astimezone(UTC)  # type: ignore[misc,arg-type]


def test_open_now_closed_later_and_next_morning() -> None:
    w = CallWindow()
    at = local("Asia/Seoul", 2026, 11, 23, 10, 15)
    assert next_call_time(at, ["Asia/Seoul"], w) == at
    assert next_call_time(local("Asia/Seoul", 2026, 11, 23, 8, 59), ["Asia/Seoul"], w) \
        == local("Asia/Seoul", 2026, 11, 23, 9, 0)
    assert next_call_time(local("Asia/Seoul", 2026, 11, 23, 20, 0), ["Asia/Seoul"], w) \
        == local("Asia/Seoul", 2026, 11, 24, 9, 0)


def test_schedule_dates_bound_the_calls() -> None:
    w = CallWindow(first_day=date(2026, 12, 1), last_day=date(2026, 12, 3))
    assert next_call_time(local("Asia/Seoul", 2026, 11, 23, 10), ["Asia/Seoul"], w) \
        == local("Asia/Seoul", 2026, 12, 1, 9, 0)
    assert next_call_time(local("Asia/Seoul", 2026, 12, 3, 20, 30), ["Asia/Seoul"], w) is None


def test_every_zone_of_an_ambiguous_number_must_be_open() -> None:
    # 09:30 in New York is 06:30 in Los Angeles: wait until 09:00 there (12:00 ET).
    at = local("America/New_York", 2026, 6, 10, 9, 30)
    got = next_call_time(at, ["America/New_York", "America/Los_Angeles"], CallWindow())
    assert got == local("America/New_York", 2026, 6, 10, 12, 0)


def test_zones_come_from_the_number() -> None:
    assert zones_for_number("+821012345678") == ("Asia/Seoul",)
    assert zones_for_number("+12125550123") == ("America/New_York",)
    assert "Asia/Shanghai" in zones_for_number("+8613812345678")
    assert zones_for_number("not a number") == ()


@pytest.mark.parametrize(("start", "end", "message"), [
    ("07:30", "20:00", "outside 08:00-21:00"),
    ("09:00", "21:30", "outside 08:00-21:00"),
    ("12:00", "12:00", "must end after it starts"),
    ("9am", "20:00", "must be HH:MM"),
])
def test_windows_the_law_does_not_allow_are_refused(start: str, end: str, message: str) -> None:
    with pytest.raises(WindowError, match=message):
        CallWindow.parse(start, end)


def test_unknown_zone_is_named() -> None:
    with pytest.raises(WindowError, match="unknown time zone 'Mars/Olympus'"):
        next_call_time(datetime.now(UTC), ["Mars/Olympus"], CallWindow())


quarter_hours = st.integers(min_value=8 * 4, max_value=21 * 4)
windows = st.tuples(quarter_hours, quarter_hours).filter(lambda t: t[0] < t[1]).map(
    lambda t: CallWindow(time(t[0] // 4, t[0] % 4 * 15),
                         time(t[1] // 4, t[1] % 4 * 15) if t[1] < 84 else time(21, 0)))
instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31),
                        timezones=st.just(UTC))


def is_open(at: datetime, tz: str, w: CallWindow) -> bool:
    t = at.astimezone(ZoneInfo(tz)).time()
    return w.start <= t < w.end


@settings(max_examples=400, deadline=None)
@given(now=instants, tz=st.sampled_from(DST_ZONES), w=windows)
def test_the_next_call_time_is_the_first_open_instant(now: datetime, tz: str,
                                                      w: CallWindow) -> None:
    got = next_call_time(now, [tz], w)
    assert got is not None and got >= now
    assert is_open(got, tz, w), "never outside the window in the callee's zone"
    assert got - now <= timedelta(days=2)
    if is_open(now, tz, w):
        assert got == now
    else:  # nothing earlier was open: a minute before, the window was still shut
        assert not is_open(got - timedelta(minutes=1), tz, w) or got - timedelta(minutes=1) < now


@settings(max_examples=200, deadline=None)
@given(now=instants, zones=st.lists(st.sampled_from(DST_ZONES), min_size=2, max_size=3,
                                    unique=True))
def test_with_several_zones_every_one_is_open(now: datetime, zones: list[str]) -> None:
    w = CallWindow(time(8, 0), time(21, 0))
    got = next_call_time(now, zones, w)
    if got is None:  # only zones whose windows never overlap
        span = [ZoneInfo(z).utcoffset(now.replace(tzinfo=None)) for z in zones]
        assert max(span) - min(span) >= timedelta(hours=13)  # type: ignore[type-var,operator]
        return
    assert got >= now and all(is_open(got, z, w) for z in zones)
