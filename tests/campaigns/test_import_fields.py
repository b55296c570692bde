"""A list's columns matched to its script's fields (campaigns/import_fields.py): obvious
columns proposed and ambiguous ones not, a mapping claimed once with only the winner's
choice kept, an import waiting for its mapping, then storing contacts under the field
names, and the chosen mapping deleted with its upload."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from campaigns import import_fields, list_imports
from campaigns.db import Database
from campaigns.import_fields import apply_mapping, missing_fields, propose
from campaigns.lifecycle import CampaignError
from campaigns.models import Contact, ImportBatch, utcnow
from tests.campaigns.test_hardening_imports import queued


@pytest.mark.parametrize(("columns", "proposed"), [
    (["전화번호", "이름"], {"name": "이름"}),
    (["phone", "성함", "memo"], {"name": "성함"}),
    (["phone", "고객명"], {"name": "고객명"}),
    (["phone", "Name"], {"name": "Name"}),
    (["phone", "Customer_Name"], {"name": "Customer_Name"}),
    (["phone", "이름", "성함"], {}),  # two columns could be meant: none is proposed
    (["phone", "memo"], {}),
])
def test_obvious_columns_are_proposed_and_ambiguous_ones_are_not(
        columns: list[str], proposed: dict[str, str]) -> None:
    assert propose(["name"], columns) == proposed


def test_a_mapping_moves_values_to_the_fields_name_and_keeps_the_rest() -> None:
    assert apply_mapping({"name": "이름"}, {"이름": "김민수", "메모": "VIP"}) == {
        "메모": "VIP", "name": "김민수"}
    assert apply_mapping({}, {"a": "1"}) == {"a": "1"}
    assert missing_fields(["name", "plan"], ["name", "요금"], {"plan": "요금"}) == []
    assert missing_fields(["name"], ["이름"], {"name": "주소"}) == ["name"]


def lacking_name(columns: list[str], mapping: dict[str, str]) -> str:
    return "name is missing" if missing_fields(["name"], columns, mapping) else ""


def test_an_import_waits_for_its_mapping_then_stores_the_fields_name(
        db: Database, tmp_path: Path) -> None:
    cid, batch = queued(db, tmp_path, "전화번호,이름\n010-5000-0001,김민수\n")
    assert list_imports.run_import(db, batch, unmapped=lacking_name) == "needs_mapping"
    status = list_imports.import_status(db, batch)
    assert (status["message"], status["phone_column"]) == ("name is missing", "전화번호")
    assert import_fields.claim_mapping(db, batch, "전화번호", {"name": "이름"}) is True
    assert list_imports.run_import(db, batch, unmapped=lacking_name) == "done"
    with db.session() as s:
        fields = s.scalars(select(Contact.fields).where(Contact.campaign_id == cid)).all()
    assert fields == [{"name": "김민수"}]


def test_of_mappings_sent_at_once_only_the_winners_is_kept(
        db: Database, tmp_path: Path) -> None:
    _, batch = queued(db, tmp_path, "전화번호,이름,성함\n010-5000-0001,김민수,민수\n")
    assert list_imports.run_import(db, batch, unmapped=lacking_name) == "needs_mapping"
    results: dict[str, bool] = {}
    start = threading.Barrier(3)

    def claim(column: str) -> None:
        start.wait()
        results[column] = import_fields.claim_mapping(db, batch, "전화번호", {"name": column})

    threads = [threading.Thread(target=claim, args=(c,)) for c in ("이름", "성함", "전화번호")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [c for c, won in results.items() if won]
    assert len(winners) == 1, results
    stored = list_imports.import_status(db, batch)
    with db.session() as s:
        path = s.get(ImportBatch, batch).stored_path  # type: ignore[union-attr]
    assert import_fields.read_mapping(path) == {"name": winners[0]}
    assert sorted(p.name for p in Path(path).parent.iterdir()) == sorted(
        [Path(path).name, Path(path).name + ".fields.json"]), "no loser's draft is left"
    assert stored["status"] == "queued"


def test_hand_made_mappings_are_bounded(db: Database, tmp_path: Path) -> None:
    _, batch = queued(db, tmp_path, "전화번호,이름\n010-5000-0001,김민수\n")
    with pytest.raises(CampaignError, match="at most 50"):
        import_fields.claim_mapping(db, batch, "전화번호", {f"f{i}": "이름" for i in range(51)})
    with pytest.raises(CampaignError, match="200 characters"):
        import_fields.claim_mapping(db, batch, "전화번호", {"name": "x" * 201})
    # An unreadable or oversized mapping file is no mapping.
    bad = tmp_path / "x.csv"
    import_fields.sidecar(bad).write_text("[1, 2]", encoding="utf-8")
    assert import_fields.read_mapping(bad) == {}
    import_fields.sidecar(bad).write_text("{" + " " * 70_000 + "}", encoding="utf-8")
    assert import_fields.read_mapping(bad) == {}


def test_the_mapping_goes_with_its_upload(db: Database, tmp_path: Path) -> None:
    from campaigns.uploads import purge_uploads

    _, batch = queued(db, tmp_path, "전화번호,이름\n010-5000-0001,김민수\n")
    assert list_imports.run_import(db, batch, unmapped=lacking_name) == "needs_mapping"
    assert import_fields.claim_mapping(db, batch, "전화번호", {"name": "이름"})
    assert list_imports.run_import(db, batch, unmapped=lacking_name) == "done"
    with db.session() as s:
        s.execute(update(ImportBatch).where(ImportBatch.id == batch).values(
            created_at=utcnow() - timedelta(days=100)))
        path = Path(s.get(ImportBatch, batch).stored_path)  # type: ignore[union-attr]
    assert import_fields.sidecar(path).exists()
    assert purge_uploads(db, tmp_path / "uploads", retention_days=90) == [batch]
    assert not path.exists() and not import_fields.sidecar(path).exists()
