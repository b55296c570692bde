"""How fast the campaign dashboard renders over a large call history. Prints one JSON
document:

    {"calls", "turns", "db", "counted", "report_s", "api_s", "browser_s", "goal_s"}

A synthetic history of `--calls` calls over 30 days in two campaigns (dispositions,
hand-offs, end nodes and turns drawn like a real campaign's) is written into a fresh
database; then the dashboard is timed three ways, each the median of `--runs`:
`report_s` the analytics alone (load from the database and compute every chart),
`api_s` GET /api/dashboard through a real uvicorn server, and `browser_s` headless
Chromium from navigation to every chart drawn (the page sets `window.dashboardDrawn`).
The goal is the dashboard in <= 2 s with 100,000 calls.

    .venv/bin/python bench/dashboard.py [--calls 100000] [--runs 3] [--no-browser]
        [--db sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOAL_S = 2.0
def time_report(url: str, runs: int) -> tuple[float, dict[str, Any]]:
    """The analytics alone over every call (as the dashboard's "All campaigns")."""
    from campaigns.analytics import dashboard, load
    from campaigns.db import Database

    db = Database(url)
    took, report = [], {}
    for _ in range(runs):
        t0 = time.perf_counter()
        report = dashboard(*load(db), tz="Asia/Seoul")
        took.append(time.perf_counter() - t0)
    return statistics.median(took), report


def time_web(url: str, work: Path, runs: int, browser: bool) -> dict[str, float]:
    """GET /api/dashboard and the page in Chromium through a real `dialer serve`."""
    import urllib.request
    from http.cookiejar import CookieJar

    from campaigns.db import Database
    from campaigns.users import create_user
    from tests.support.browser import chromium, web_server

    create_user(Database(url), "bench", "bench password", "analyst")
    # Plain http on loopback: urllib's cookie jar sends no Secure cookie over http.
    env = dict(os.environ, DIALER_DATABASE_URL=url, DIALER_DATA_DIR=str(work),
               DIALER_WEB_SECURE_COOKIES="false")
    env.pop("DIALER_ACD_URL", None)
    out: dict[str, float] = {}
    with web_server(work, env) as base:
        jar = CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        login = urllib.request.Request(
            f"{base}/api/login", data=json.dumps({"username": "bench",
                                                  "password": "bench password"}).encode(),
            headers={"Content-Type": "application/json"})
        opener.open(login).read()
        took = []
        for _ in range(runs):
            t0 = time.perf_counter()
            body = opener.open(f"{base}/api/dashboard?tz=Asia/Seoul").read()
            took.append(time.perf_counter() - t0)
        assert json.loads(body)["metrics"]["attempts"] > 0
        out["api_s"] = round(statistics.median(took), 3)
        if not browser:
            return out
        with chromium(work) as driver:
            driver.get(f"{base}/login")
            driver.find_element("name", "username").send_keys("bench")
            driver.find_element("name", "password").send_keys("bench password")
            driver.find_element("css selector", "form button[type=submit]").click()
            t0 = time.perf_counter()
            while "/login" in driver.current_url:  # the session cookie, before timing
                if time.perf_counter() - t0 > 30:
                    raise SystemExit("could not log in to the dashboard")
                time.sleep(0.05)
            took = []
            for _ in range(runs):
                t0 = time.perf_counter()
                driver.get(f"{base}/dashboard")
                while not driver.execute_script("return window.dashboardDrawn === true"):
                    if time.perf_counter() - t0 > 60:
                        error = driver.find_element("id", "error").text
                        raise SystemExit(f"the dashboard did not draw in 60 s: {error!r} "
                                         f"at {driver.current_url}")
                    time.sleep(0.01)
                took.append(time.perf_counter() - t0)
            out["browser_s"] = round(statistics.median(took), 3)
            drawn = driver.execute_script(
                "return Chart.getChart('chart-funnel').data.datasets[0].data[0]")
            assert drawn == json.loads(body)["funnel"][0]["count"], drawn
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        url = f"sqlite:///{Path(tmp) / 'dash.db'}"
        if args.db == "postgresql":  # a private server, as the tests start one
            from tests.support.postgres import fresh_database, postgres_server

            url = fresh_database(stack.enter_context(postgres_server()))
        t0 = time.perf_counter()
        from campaigns.synthetic import generate

        _ids, n_turns = generate(url, args.calls)
        print(f"generated {args.calls} calls, {n_turns} turns in "
              f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
        took, report = time_report(url, args.runs)
        out: dict[str, Any] = {"calls": args.calls, "turns": n_turns, "db": args.db,
                               "counted": report["metrics"]["attempts"],
                               "report_s": round(took, 3)}
        out.update(time_web(url, Path(tmp), args.runs, not args.no_browser))
        out["goal_s"] = GOAL_S
        print(json.dumps(out))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
