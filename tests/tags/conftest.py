"""Shared set-up for the tag tests: a small bank with generated customers and a synchronous tag runner."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy.orm import Session

from omniloop.core.audit import Actor
from omniloop.core.db import session_factory
from omniloop.customers.models import Customer, CustomerMonthly
from omniloop.tags import runner, service
from omniloop.tags.feature_store import build_features
from omniloop.tags.models import TagDefinition, TagRun
from omniloop.tags.schemas import TagCreate
from tests.factories import Bank, create_bank, create_customer

AS_OF = date(2024, 6, 15)
NOW = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)
MONTHS = [date(2023, m, 1) for m in range(7, 13)] + [date(2024, m, 1) for m in range(1, 7)]


@dataclass
class TagBank:
    bank: Bank
    customers: list[Customer]
    home: Path

    def by_org(self, *orgs) -> list[Customer]:
        ids = {o.id for o in orgs}
        return [c for c in self.customers if c.org_id in ids]


def generate_customers(db: Session, bank: Bank, n: int = 90, seed: int = 11) -> list[Customer]:
    rng = random.Random(seed)
    orgs = [bank.sub_a, bank.sub_a, bank.sub_b, bank.branch_a, bank.branch_b, bank.head]
    rms = {bank.sub_a.id: [bank.users["rm_a"], bank.users["rm_a2"]], bank.sub_b.id: [bank.users["rm_b"]]}
    customers = []
    for _ in range(n):
        org = rng.choice(orgs)
        rm = rng.choice(rms[org.id]) if org.id in rms and rng.random() < 0.8 else None
        aum = rng.choice([0, 500_00, 3_000_00, 20_000_00, 80_000_00, 600_000_00, 7_000_000_00]) + rng.randrange(0, 10_000)
        card = rng.random() < 0.5
        c = create_customer(
            db, org=org, rm=rm, aum_fen=aum, deposit_fen=aum, wealth_fen=rng.choice([0, 0, 100_00]),
            fund_fen=rng.choice([0, 50_00]), insurance_fen=rng.choice([0, 0, 0, 10_00]),
            has_credit_card=card, credit_card_activated=card and rng.random() < 0.5,
            payroll_flag=rng.random() < 0.3, risk_level=rng.choice(["R1", "R2", "R3", "R4", "R5", None]),
            birth_date=rng.choice([date(1950, 1, 1), date(1970, 5, 5), date(1990, 9, 9), None]),
            first_account_date=rng.choice([date(2024, 5, 1), date(2023, 12, 1), date(2015, 1, 1), None]),
            app_logins_month=rng.choice([0, 0, 3, 12]),
        )
        level = rng.choice([1, 1, 2, 0.2, 0.5])
        for i, month in enumerate(MONTHS[rng.randrange(0, 10):]):
            logins = rng.choice([0, 0, 1, 5]) if rng.random() < 0.7 else 0
            db.add(CustomerMonthly(customer_id=c.id, month=month,
                                   aum_fen=int(aum * (level if i > 8 else 1)), app_logins=logins))
        customers.append(c)
    db.commit()
    return customers


@pytest.fixture
def tag_bank(db, settings) -> TagBank:
    bank = create_bank(db)
    return TagBank(bank, generate_customers(db, bank), Path(settings.home))


@pytest.fixture
def factory(engine):
    return session_factory(engine)


def features_by_cid(db: Session) -> dict[int, dict]:
    """The feature table computed independently of any tag (the tag runner's input)."""
    table: pa.Table = build_features(db, as_of=AS_OF)
    return {row["cid"]: row for row in table.to_pylist()}


def make_tag(db: Session, bank: Bank, **fields) -> TagDefinition:
    data = {"name_zh": fields.get("code", "t"), "name_en": fields.get("code", "t"), "category": "basic",
            "source": "rule", "value_type": "boolean", **fields}
    system = data.pop("system", False)
    tag = service.create_tag_as(db, actor=Actor(None, "test"), org_id=bank.head.id, data=TagCreate(**data),
                                system=system)
    db.commit()
    return tag


def run(factory, home: Path, **kwargs) -> TagRun:
    kwargs.setdefault("as_of", AS_OF)
    kwargs.setdefault("now", NOW)
    return runner.run_tags(factory, home, **kwargs)
