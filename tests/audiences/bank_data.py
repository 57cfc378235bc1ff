"""A small bank in the database with a published tag set, and DuckDB as the independent referee.

``seed_customers`` puts a few hundred customers with varied attributes into the test bank's orgs;
``publish_tags`` builds the feature table from the database (``rebuild_features``), adds tag columns drawn
from a seed, indexes both and publishes the tag set as a tag run would. ``duckdb_cids`` answers an
expression with ``audiences.sql.to_sql`` over the same Parquet files — a different engine on the same data.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyroaring import BitMap
from sqlalchemy import select
from sqlalchemy.orm import Session

from omniloop.audiences.bitmap_index import BitmapIndex
from omniloop.audiences.expression import AudienceResolver, parse_expression
from omniloop.audiences.sql import to_sql
from omniloop.customers.models import Customer
from omniloop.org.models import Org
from omniloop.org.roles import Role
from omniloop.tags.feature_store import rebuild_features
from omniloop.tags.tagset import TagMeta, feature_store, publish_tagset, tag_store
from tests.factories import Bank, create_bank, create_user

AS_OF = date(2026, 11, 1)
STAGES = ("acquire", "activate", "grow", "retain", "refer")
TAG_METAS = {
    "vip": TagMeta("vip", "enum", ("gold", "silver", "bronze", "platinum"), tag_id=1,
                   extra={"name_zh": "VIP等级", "name_en": "VIP level"}),
    "churn_risk": TagMeta("churn_risk", "boolean", (), tag_id=2),
    "tier": TagMeta("tier", "enum", tuple(f"t{i}" for i in range(6)), tag_id=3),
}


def bank_with_tags(session: Session, home: Path) -> Bank:
    """The test bank plus an analyst and a branch-B manager, 240 customers, and tag set 1 published."""
    bank = create_bank(session)
    bank.users["analyst"] = create_user(session, org=bank.head, role=Role.analyst, username="analyst")
    bank.users["manager_b"] = create_user(session, org=bank.branch_b, role=Role.branch_manager,
                                          username="manager_b")
    session.commit()
    bank.customers = seed_customers(session, bank)
    bank.tagset = publish_tags(session, home, seed=1)
    return bank


def seed_customers(session: Session, bank: Bank, *, n: int = 240, seed: int = 3) -> list[Customer]:
    """``n`` customers over the bank's orgs (most in sub-branches), RMs assigned in the sub-branches."""
    rng = np.random.default_rng(seed)
    orgs = [bank.sub_a, bank.sub_a, bank.sub_a, bank.sub_b, bank.sub_b, bank.branch_a, bank.branch_b, bank.head]
    customers = []
    for i in range(n):
        org = orgs[int(rng.integers(0, len(orgs)))]
        rm = None
        if org.id == bank.sub_a.id:
            rm = [bank.users["rm_a"], bank.users["rm_a2"], None][int(rng.integers(0, 3))]
        elif org.id == bank.sub_b.id:
            rm = bank.users["rm_b"] if rng.random() < 0.7 else None
        aum = int(np.exp(rng.normal(np.log(80_000), 1.5)) * 100)
        customers.append(Customer(
            customer_no=f"T{seed:02d}{i:06d}", org_id=org.id, rm_id=rm.id if rm else None,
            name=["李小龙", "陈美玲", "王五", "赵六", "欧阳娜娜"][i % 5], phone=f"139{int(rng.integers(10**7, 10**8))}",
            gender=["M", "F", None][int(rng.integers(0, 3))],
            birth_date=date(1950 + int(rng.integers(0, 50)), 1 + int(rng.integers(0, 12)), 1 + int(rng.integers(0, 28))),
            risk_level=["R1", "R2", "R3", "R4", "R5", None][int(rng.integers(0, 6))],
            segment=["retail", "retail", "private", "corporate", "small_business"][int(rng.integers(0, 5))],
            aum_fen=aum, deposit_fen=aum // 2, wealth_fen=aum // 3, loan_fen=int(rng.integers(0, 3)) * 5_000_000,
            has_credit_card=bool(rng.random() < 0.4), credit_card_activated=bool(rng.random() < 0.3),
            app_logins_month=int(rng.poisson(4)), first_account_date=date(2010 + int(rng.integers(0, 15)), 3, 1),
            payroll_flag=bool(rng.random() < 0.3),
            lifecycle_stage=STAGES[int(rng.integers(0, 5))] if rng.random() < 0.9 else None))
    session.add_all(customers)
    session.commit()
    return customers


def tag_values(cids: np.ndarray, *, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    n = len(cids)
    vip = np.array(["gold", "silver", "bronze"], dtype=object)[rng.integers(0, 3, n)]
    tier = np.array(TAG_METAS["tier"].values, dtype=object)[rng.integers(0, 6, n)]
    return pa.table({
        "cid": pa.array(cids, pa.int64()),
        "tag__vip": pa.array(vip.tolist(), mask=rng.random(n) < 0.5, type=pa.string()),
        "tag__churn_risk": pa.array(rng.random(n) < 0.25, mask=rng.random(n) < 0.3),
        "tag__tier": pa.array(tier.tolist(), mask=rng.random(n) < 0.1, type=pa.string()),
    })


def publish_tags(session: Session, home: Path, *, seed: int = 1, rebuild: bool = True) -> int:
    """Build features (unless ``rebuild`` is False: reuse the current ones) and publish a tag set."""
    features = feature_store(home)
    if rebuild or features.current_version() is None:
        rebuild_features(session, features, as_of=AS_OF, memory_limit=None)
    feature_version = features.current_version()
    table = pq.read_table(features.path(feature_version))
    tags = tag_values(table["cid"].to_numpy(), seed=seed)
    joined = table.join(tags, "cid")
    index = BitmapIndex.build(joined, tag_columns={c: m.kind for c, m in TAG_METAS.items()})
    return publish_tagset(tag_store(home), values=tags, index=index, tags=TAG_METAS,
                          feature_version=feature_version, run_id=None, as_of=AS_OF)


def subtree_org_ids(session: Session, org: Org) -> list[int]:
    return list(session.scalars(select(Org.id).where(Org.path.like(org.path + "%"))))


def duckdb_cids(home: Path, expression: dict, *, lists: dict[int, Iterable[int]] | None = None,
                audiences: dict[int, dict] | None = None, scope_org_ids: Iterable[int] | None = None,
                only_cids: Iterable[int] | None = None, tagset_version: int | None = None) -> set[int]:
    """The audience's cids computed by DuckDB from the current (or given) tag set and its feature table."""
    tags = tag_store(home)
    version = tagset_version or tags.current_version()
    feature_version = tags.manifest(version)["feature_version"]
    con = duckdb.connect()
    try:
        con.execute(f"""CREATE TABLE features AS SELECT f.*, t.* EXCLUDE (cid)
                        FROM read_parquet('{feature_store(home).path(feature_version)}') f
                        JOIN read_parquet('{tags.path(version)}') t USING (cid)""")
        rows = [(k, c) for k, cids in (lists or {}).items() for c in cids]
        con.register("list_source", pa.table({"list_id": pa.array([r[0] for r in rows], pa.int64()),
                                              "cid": pa.array([r[1] for r in rows], pa.int64())}))
        con.execute("CREATE TABLE list_members AS SELECT * FROM list_source")
        parsed = {k: parse_expression(v) for k, v in (audiences or {}).items()}
        resolver: AudienceResolver = parsed.get
        sql = to_sql(parse_expression(expression), "duckdb", audiences=resolver,
                     scope_org_ids=list(scope_org_ids) if scope_org_ids is not None else None)
        found = {int(r[0]) for r in con.execute(sql).fetchall()}
    finally:
        con.close()
    if only_cids is not None:
        found &= set(only_cids)
    return found


def all_cids(home: Path) -> set[int]:
    tags = tag_store(home)
    return set(pc.unique(pq.read_table(tags.path(tags.current_version()), columns=["cid"])["cid"]).to_pylist())


def as_bitmap(cids: Iterable[Any]) -> BitMap:
    return BitMap(int(c) for c in cids)
