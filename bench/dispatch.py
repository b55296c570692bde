"""How fast several dispatchers claim due contacts from one campaign, and whether any
contact is ever claimed twice. Prints one JSON document:

    {"workers", "claims", "claims_per_s", "double_claims", "db"}

Each worker is its own process (as dispatchers on several hosts are) looping on
`claim_due` against one database until the campaign's contacts are all claimed.
`double_claims` counts contacts with more than one attempt plus attempt ids reported by
more than one worker (both must be 0).

    .venv/bin/python bench/dispatch.py [--workers 4] [--contacts 20000]
        [--db sqlite|postgresql | --db-url URL]

`--db postgresql` starts a private PostgreSQL server (Debian's, as the tests do).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEMO = ROOT / "campaigns" / "examples" / "demo"


def claimer(url: str, batch: int, start_at: float, out: Any) -> None:
    from sqlalchemy import func, select

    from campaigns.db import Database
    from campaigns.dispatch import claim_due
    from campaigns.models import Contact
    from campaigns.statuses import ContactStatus

    db = Database(url)
    got: list[int] = []
    time.sleep(max(0.0, start_at - time.time()))
    while True:
        claimed = claim_due(db, limit=batch, period_s=1000.0, sandbox=True)
        got += claimed
        if not claimed:  # others may hold the rest: done only when nothing is pending
            with db.session() as s:
                if not s.scalar(select(func.count(Contact.id)).where(
                        Contact.status == ContactStatus.PENDING)):
                    break
    out.put((got, time.time()))


def prepare(url: str, contacts: int, work: Path) -> int:
    from campaigns.db import Database
    from campaigns.lifecycle import change_status
    from campaigns.list_imports import create_campaign

    db = Database(url)
    db.migrate()
    csv = work / "contacts.csv"
    with csv.open("w", encoding="utf-8") as f:
        f.write("name,phone\n")
        for i in range(contacts):
            f.write(f"c{i},010{(20000000 + i):08d}\n")
    summary = create_campaign(db, name=f"dispatch bench {time.time():.0f}", script_dir=DEMO,
                              csv_path=csv, uploads_dir=work / "uploads",
                              max_concurrent=100_000, max_cps=100.0, dry_run=True)
    change_status(db, summary.campaign_id, "start")
    return summary.campaign_id


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--contacts", type=int, default=20000)
    p.add_argument("--batch", type=int, default=50, help="claims per claim_due call")
    p.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--db-url", default="", help="SQLAlchemy URL of an existing database")
    args = p.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-dispatch-"))
    with contextlib.ExitStack() as stack:
        url = args.db_url or f"sqlite:///{work / 'dispatch.db'}"
        if args.db == "postgresql" and not args.db_url:
            from tests.support.postgres import fresh_database, postgres_server

            url = fresh_database(stack.enter_context(postgres_server()))
        return run(args, url, work)


def run(args: argparse.Namespace, url: str, work: Path) -> int:
    campaign_id = prepare(url, args.contacts, work)

    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 3.0  # after the spawned interpreters have imported
    procs = [ctx.Process(target=claimer, args=(url, args.batch, start_at, out))
             for _ in range(args.workers)]
    for proc in procs:
        proc.start()
    results = [out.get(timeout=3600) for _ in procs]
    for proc in procs:
        proc.join(60)
    ids = [a for got, _ in results for a in got]
    seconds = max(t for _, t in results) - start_at

    from sqlalchemy import func, select

    from campaigns.db import Database
    from campaigns.models import CallAttempt

    with Database(url).session() as s:
        per_contact = s.execute(select(CallAttempt.contact_id, func.count())
                                .where(CallAttempt.campaign_id == campaign_id)
                                .group_by(CallAttempt.contact_id)
                                .having(func.count() > 1)).all()
        attempts = s.scalar(select(func.count(CallAttempt.id))
                            .where(CallAttempt.campaign_id == campaign_id))
    double = len(per_contact) + (len(ids) - len(set(ids)))
    print(json.dumps({
        "bench": "dispatch", "workers": args.workers, "contacts": args.contacts,
        "claims": len(ids), "attempts_stored": attempts,
        "seconds": round(seconds, 2), "claims_per_s": round(len(ids) / seconds, 1),
        "double_claims": double, "per_worker": [len(got) for got, _ in results],
        "db": url.split(":", 1)[0],
    }, indent=1))
    return 0 if double == 0 and len(ids) == args.contacts else 1


if __name__ == "__main__":
    raise SystemExit(main())
