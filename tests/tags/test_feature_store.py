"""The feature table: values for hand-built customers, versions and readers, pruning, incremental
refresh against a full rebuild, and a publisher in another process while this one reads."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import delete, update

from omniloop.customers.models import Customer, CustomerMonthly
from omniloop.demo.layout import build_layout
from omniloop.demo.parquet import generate_parquet
from omniloop.demo.seed import seed_demo
from omniloop.tags.feature_store import (
    FeatureStore,
    build_features,
    build_features_from_parquet,
    demo_ids,
    feature_schema,
    rebuild_features,
    refresh_features,
    write_features_from_parquet,
)
from omniloop.tags.features import FEATURES, KEY_COLUMNS
from tests.factories import create_bank, create_customer

AS_OF = date(2024, 6, 15)


def add_month(db, customer: Customer, month: date, aum_fen: int, logins: int = 0) -> None:
    db.add(CustomerMonthly(customer_id=customer.id, month=month, aum_fen=aum_fen, app_logins=logins))


def by_cid(table: pa.Table) -> dict[int, dict]:
    return {row["cid"]: row for row in table.to_pylist()}


def same_columns(schema: pa.Schema) -> bool:
    return [(f.name, f.type) for f in schema] == [(f.name, f.type) for f in feature_schema()]


@pytest.fixture
def customers(db):
    """Three customers whose features are worked out by hand below."""
    bank = create_bank(db)
    rich = create_customer(db, org=bank.sub_a, rm=bank.users["rm_a"], birth_date=date(1980, 5, 17),
                           aum_fen=5_000_000, deposit_fen=1_000_000, wealth_fen=3_000_000, loan_fen=2_000_000,
                           has_credit_card=True, credit_card_activated=True, app_logins_month=0,
                           first_account_date=date(2015, 3, 1), lifecycle_stage="grow")
    add_month(db, rich, date(2023, 6, 1), 5_000_000)  # 12 months back: outside every window
    add_month(db, rich, date(2023, 7, 1), 999_999)  # the highest in the 12-month window
    add_month(db, rich, date(2024, 2, 1), 50_000, logins=3)  # the last login
    add_month(db, rich, date(2024, 3, 1), 100_000)  # three months before June
    add_month(db, rich, date(2024, 4, 1), 200_000)
    add_month(db, rich, date(2024, 5, 1), 300_000)
    add_month(db, rich, date(2024, 6, 1), 400_001)
    add_month(db, rich, date(2024, 7, 1), 9_999_999, logins=5)  # after as_of: ignored

    bare = create_customer(db, org=bank.branch_b, birth_date=None, first_account_date=None, gender=None,
                           risk_level=None, aum_fen=0, deposit_fen=0)

    head = create_customer(db, org=bank.head, birth_date=date(1980, 6, 16), aum_fen=11, deposit_fen=11,
                           segment="private", risk_level="R5")
    add_month(db, head, date(2024, 3, 1), 0)  # a zero base: no change ratio
    add_month(db, head, date(2024, 5, 1), 10, logins=1)
    add_month(db, head, date(2024, 6, 1), 10, logins=2)
    db.commit()
    return bank, rich, bare, head


def test_feature_values_for_hand_built_customers(db, customers):
    bank, rich, bare, head = customers
    table = build_features(db, as_of=AS_OF)
    assert same_columns(table.schema)
    assert table.column_names[:len(KEY_COLUMNS)] == list(KEY_COLUMNS)
    assert table["cid"].to_pylist() == sorted([rich.id, bare.id, head.id])
    rows = by_cid(table)

    r = rows[rich.id]
    assert (r["customer_no"], r["org_id"], r["branch_id"], r["rm_id"]) == \
        (rich.customer_no, bank.sub_a.id, bank.branch_a.id, bank.users["rm_a"].id)
    assert r["age"] == 44
    assert r["aum_fen"] == 5_000_000
    assert r["aum_avg_3m_fen"] == 300_000  # (200 000 + 300 000 + 400 001) / 3 = 300 000.33
    assert r["aum_max_12m_fen"] == 999_999
    assert r["aum_change_3m"] == pytest.approx(3.00001, abs=1e-12)  # (400 001 − 100 000) / 100 000
    assert r["product_count"] == 4  # deposit, wealth, loan, credit card
    assert r["app_logins_3m"] == 0 and r["months_since_login"] == 4  # February → June
    assert r["tenure_days"] == (AS_OF - date(2015, 3, 1)).days
    assert (r["lifecycle_stage"], r["lifecycle_status"]) == ("grow", None)
    assert (r["segment"], r["risk_level"], r["gender"], r["has_credit_card"]) == ("retail", "R3", "M", True)

    b = rows[bare.id]
    assert (b["org_id"], b["branch_id"], b["rm_id"]) == (bank.branch_b.id, bank.branch_b.id, None)
    assert (b["age"], b["gender"], b["risk_level"], b["tenure_days"], b["first_account_date"]) == (None,) * 5
    assert (b["aum_avg_3m_fen"], b["aum_max_12m_fen"], b["app_logins_3m"], b["product_count"]) == (0, 0, 0, 0)
    assert b["aum_change_3m"] is None and b["months_since_login"] is None

    h = rows[head.id]
    assert h["branch_id"] is None  # the head office lies under no branch
    assert h["age"] == 43  # the 44th birthday is the day after as_of
    assert h["aum_avg_3m_fen"] == 7  # (0 + 10 + 10) / 3 = 6.67, April missing counts as zero
    assert h["aum_change_3m"] is None  # base month has zero AUM
    assert (h["app_logins_3m"], h["months_since_login"], h["product_count"]) == (3, 0, 1)
    assert (h["segment"], h["risk_level"]) == ("private", "R5")


def test_parquet_build_matches_a_seeded_demo_database(db, tmp_path):
    """The benchmark path (demo Parquet files) and the database path compute the same features."""
    as_of = date(2024, 6, 1)
    seed_demo(db, customers=1_500, as_of=as_of)
    files = generate_parquet(tmp_path / "demo", customers=1_500, as_of=as_of)
    from_db = build_features(db, as_of=as_of)
    from_files = build_features_from_parquet(files.customers_path, files.monthly_path, as_of=as_of)
    assert from_files["cid"].to_pylist() == list(range(1_500))  # dense ordinals
    assert same_columns(from_files.schema)
    # Only the numbering of customers differs: the database's ids against the file's ordinals.
    db_rows = {row.pop("customer_no"): row for row in from_db.drop_columns(["cid"]).to_pylist()}
    file_rows = {row.pop("customer_no"): row for row in from_files.drop_columns(["cid"]).to_pylist()}
    assert db_rows == file_rows
    org_ids, _ = demo_ids()
    branch_ids = {org_ids[branch.code] for branch in build_layout().branches}
    assert {row["branch_id"] for row in file_rows.values()} <= branch_ids  # every sub-branch lies under one
    assert sum(row["rm_id"] is not None for row in file_rows.values()) > 500
    assert sum(row["months_since_login"] is not None for row in file_rows.values()) > 500


def test_write_features_from_parquet_writes_sorted_row_groups(tmp_path):
    files = generate_parquet(tmp_path / "demo", customers=25_000, as_of=date(2024, 6, 1))
    out = tmp_path / "features.parquet"
    assert write_features_from_parquet(files.customers_path, files.monthly_path, as_of=date(2024, 6, 1), out=out) \
        == 25_000
    cids = pq.read_table(out, columns=["cid"])["cid"].to_pylist()
    assert cids == list(range(25_000))


# ---- versions, readers and pruning --------------------------------------------------------------------


def version_table(version: int, rows: int = 1_000) -> pa.Table:
    return pa.table({"cid": pa.array(range(rows), pa.int64()), "x": pa.array([version] * rows, pa.int64())})


def test_publish_writes_an_immutable_version_and_swaps_current(tmp_path):
    store = FeatureStore(tmp_path)
    assert store.current_version() is None
    v1 = store.publish(version_table(1), source="test", as_of=date(2024, 6, 1))
    assert v1 == 1 and store.current_version() == 1
    assert (tmp_path / "features" / "CURRENT").read_text() == "v000001\n"
    assert store.path(1) == tmp_path / "features" / "v000001" / "features.parquet"
    manifest = json.loads((tmp_path / "features" / "v000001" / "manifest.json").read_text())
    assert manifest["version"] == 1 and manifest["rows"] == 1_000 and manifest["source"] == "test"
    assert manifest["as_of"] == "2024-06-01"
    assert datetime.fromisoformat(manifest["created_at"]).utcoffset() == timedelta(0)
    assert [c["name"] for c in manifest["columns"]] == ["cid", "x"]
    assert manifest["sha256"] == hashlib.sha256(store.path(1).read_bytes()).hexdigest()

    reader = store.open_reader()
    assert reader.version == 1
    assert reader.execute("select count(*), sum(x) from features").fetchone() == (1_000, 1_000)

    # A second version from a file on disk; the open reader keeps reading the first.
    pq.write_table(version_table(2, rows=10), tmp_path / "v2.parquet")
    assert store.publish(tmp_path / "v2.parquet", source="file") == 2
    assert (tmp_path / "v2.parquet").exists()  # copied, not moved
    assert store.current_version() == 2 and not reader.is_current()
    assert reader.execute("select count(*), sum(x) from features").fetchone() == (1_000, 1_000)
    assert reader.refresh() and reader.version == 2 and reader.is_current()
    assert reader.execute("select count(*), sum(x) from features").fetchone() == (10, 20)
    (lease,) = (tmp_path / "features" / "readers").glob("*.json")
    assert json.loads(lease.read_text())["versions"] == [2]  # version 1 released once the view moved
    reader.close()
    assert not list((tmp_path / "features" / "readers").glob("*.json"))  # lease given back


def test_publish_refuses_a_table_without_cid_and_leaves_nothing_behind(tmp_path):
    store = FeatureStore(tmp_path)
    with pytest.raises(ValueError):
        store.publish(pa.table({"x": [1]}), source="test")
    pq.write_table(pa.table({"x": [1]}), tmp_path / "no_cid.parquet")
    with pytest.raises(ValueError):
        store.publish(tmp_path / "no_cid.parquet", source="test")
    assert store.versions() == [] and store.current_version() is None
    assert not list((tmp_path / "features").glob(".staging-*"))
    with pytest.raises(FileNotFoundError):
        store.open_reader()


def test_pruning_keeps_the_newest_and_every_version_a_reader_holds(tmp_path):
    store = FeatureStore(tmp_path, keep=2)
    store.publish(version_table(1), source="test")
    held = store.open_reader()  # holds version 1
    for v in range(2, 6):
        store.publish(version_table(v), source="test")
    assert store.versions() == [1, 4, 5]
    assert held.execute("select min(x), max(x) from features").fetchone() == (1, 1)
    held.close()
    assert store.prune() == [1]
    assert store.versions() == [4, 5]

    # A lease left by a process that died does not protect its version.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    lease = tmp_path / "features" / "readers" / "dead.json"
    lease.write_text(json.dumps({"versions": [4], "pid": int(dead.stdout), "host": socket.gethostname()}))
    store.publish(version_table(6), source="test")
    assert store.versions() == [5, 6] and not lease.exists()


def test_reader_that_was_never_closed_gives_up_its_lease_when_collected(tmp_path):
    store = FeatureStore(tmp_path, keep=1)
    store.publish(version_table(1), source="test")
    reader = store.open_reader()
    leases = tmp_path / "features" / "readers"
    assert len(list(leases.glob("*.json"))) == 1
    reader.connection.close()
    del reader
    assert list(leases.glob("*.json")) == []
    store.publish(version_table(2), source="test")
    assert store.versions() == [2]


PUBLISHER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import pyarrow as pa
    from omniloop.tags.feature_store import FeatureStore

    root, rows, versions = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    store = FeatureStore(root, keep=2)
    for _ in range(versions):
        version = (store.current_version() or 0) + 1
        store.publish(pa.table({"cid": pa.array(range(rows), pa.int64()),
                                "x": pa.array([version] * rows, pa.int64())}), source="other process")
        time.sleep(0.05)
    print(store.current_version())
""")


def test_another_process_publishes_while_this_one_reads(tmp_path):
    rows = 200_000
    store = FeatureStore(tmp_path, keep=2)
    store.publish(version_table(1, rows), source="test")
    pinned = store.open_reader()  # never refreshes while the other process publishes
    following = store.open_reader()  # refreshes before every read
    publisher = subprocess.Popen([sys.executable, "-c", PUBLISHER, str(tmp_path), str(rows), "6"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")})
    reads = 0
    seen = set()
    deadline = time.monotonic() + 120
    while publisher.poll() is None and time.monotonic() < deadline:
        assert pinned.execute("select count(*), min(x), max(x) from features").fetchone() == (rows, 1, 1)
        following.refresh()
        count, low, high = following.execute("select count(*), min(x), max(x) from features").fetchone()
        assert (count, low, high) == (rows, following.version, following.version)  # never a torn read
        seen.add(following.version)
        reads += 1
    out, err = publisher.communicate(timeout=60)
    assert publisher.returncode == 0, err
    assert int(out) == 7
    assert reads > 3 and len(seen) >= 2, (reads, seen)
    # Version 1 survived pruning (keep=2) because the pinned reader holds it.
    assert store.versions() == [1, 6, 7]
    assert pinned.execute("select sum(x) from features").fetchone() == (rows,)
    assert pinned.refresh() and pinned.version == 7
    assert pinned.execute("select count(*), min(x), max(x) from features").fetchone() == (rows, 7, 7)
    pinned.close()
    following.close()
    assert store.prune() == [1]


# ---- full and incremental builds ---------------------------------------------------------------------------


def test_incremental_refresh_equals_a_full_rebuild(db, customers, tmp_path):
    bank, rich, bare, head = customers
    store = FeatureStore(tmp_path)
    first = refresh_features(db, store, as_of=AS_OF)  # no version yet: a full build
    assert (first.version, first.mode, first.rows) == (1, "full", 3)
    assert store.manifest()["watermark"] is not None and store.manifest()["as_of"] == AS_OF.isoformat()

    since = datetime.now(UTC)
    time.sleep(0.01)
    rich.aum_fen = 6_000_000  # an ORM update stamps updated_at
    rich.risk_level = "R4"
    add_month(db, bare, date(2024, 6, 1), 70_000, logins=9)  # history only: named explicitly below
    newcomer = create_customer(db, org=bank.sub_b, birth_date=date(2000, 1, 1))
    add_month(db, newcomer, date(2024, 6, 1), 12_345_600, logins=1)
    db.execute(delete(Customer).where(Customer.id == head.id))
    db.commit()

    result = refresh_features(db, store, changed_since=since, customer_ids=[bare.id], full_threshold=1.0)
    assert (result.version, result.mode, result.rows) == (2, "incremental", 3)
    assert (result.changed, result.added, result.removed) == (2, 1, 1)
    assert store.manifest(2)["source"] == "refresh"

    incremental = pq.read_table(store.path(2))
    full = build_features(db, as_of=AS_OF)
    assert incremental.to_pylist() == full.to_pylist()
    assert same_columns(incremental.schema)
    rows = by_cid(incremental)
    assert rows[rich.id]["aum_fen"] == 6_000_000 and rows[rich.id]["risk_level"] == "R4"
    assert rows[bare.id]["app_logins_3m"] == 9 and rows[bare.id]["months_since_login"] == 0
    assert head.id not in rows and newcomer.id in rows

    # Nothing changed since: no new version.
    again = refresh_features(db, store, changed_since=datetime.now(UTC))
    assert (again.version, again.mode, again.rows) == (2, "unchanged", 3)
    assert store.versions() == [1, 2]


def test_refresh_rebuilds_fully_for_a_new_month_or_a_large_change(db, customers, tmp_path):
    store = FeatureStore(tmp_path)
    rebuild_features(db, store, as_of=AS_OF)
    next_month = refresh_features(db, store, as_of=date(2024, 7, 15))
    assert (next_month.version, next_month.mode, next_month.rows) == (2, "full", 3)
    assert (next_month.changed, next_month.added, next_month.removed) == (3, 0, 0)
    moved = by_cid(pq.read_table(store.path(2)))
    _, rich, _, _ = customers
    assert moved[rich.id]["aum_avg_3m_fen"] == (300_000 + 400_001 + 9_999_999 + 1) // 3  # May, June, July

    db.execute(update(Customer).values(app_logins_month=1, updated_at=datetime.now(UTC)))
    db.commit()
    everyone = refresh_features(db, store, changed_since=datetime.now(UTC) - timedelta(minutes=1))
    assert (everyone.version, everyone.mode) == (3, "full")  # every row changed: a rebuild is cheaper
    assert set(pq.read_table(store.path(3))["app_logins_month"].to_pylist()) == {1}


def test_every_feature_in_the_schema_is_computed():
    assert [f.name for f in feature_schema()] == list(KEY_COLUMNS) + [f.column for f in FEATURES.values()]
