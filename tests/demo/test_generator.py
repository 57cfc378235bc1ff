"""The demo bank generator (演示银行): determinism, valid identities, consistent money, correlations (A1)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select

from omniloop.core.audit import AuditRecord
from omniloop.core.errors import Conflict
from omniloop.customers.loader import resident_id_check_chars, uscc_check_chars
from omniloop.customers.models import Customer, CustomerMonthly
from omniloop.demo.generator import (
    BLOCK,
    DECLINING,
    DORMANT,
    GROWING,
    MONTHS,
    NEW,
    PRIVATE_THRESHOLD_YUAN,
    default_as_of,
    generate_block,
    history_months,
    iter_chunks,
)
from omniloop.demo.layout import DEMO_PASSWORD, build_layout
from omniloop.demo.parquet import generate_parquet
from omniloop.demo.seed import seed_demo
from omniloop.org.models import Org, User
from tests.factories import create_org, login_headers

AS_OF = date(2026, 10, 1)


@pytest.fixture(scope="module")
def layout():
    return build_layout(42)


@pytest.fixture(scope="module")
def block(layout):
    return generate_block(layout, seed=42, block=0, as_of=AS_OF)


@pytest.fixture(scope="module")
def frame(block):
    return {name: block.customers[name].to_numpy(zero_copy_only=False) for name in block.customers.column_names}


def _bytes(values: np.ndarray, width: int) -> np.ndarray:
    return np.array(values.tolist(), dtype=f"S{width}").view(np.uint8).reshape(-1, width)


def test_same_seed_gives_the_same_customers(layout, block):
    again = generate_block(layout, seed=42, block=0, as_of=AS_OF)
    assert again.customers.equals(block.customers) and again.monthly.equals(block.monthly)
    other = generate_block(layout, seed=7, block=0, as_of=AS_OF)
    assert other.customers["name"].to_pylist()[:50] != block.customers["name"].to_pylist()[:50]


def test_customers_do_not_depend_on_chunk_size(layout):
    small = list(iter_chunks(layout, seed=42, customers=25_000, chunk=BLOCK, as_of=AS_OF))
    large = list(iter_chunks(layout, seed=42, customers=25_000, chunk=30_000, as_of=AS_OF))
    assert [len(c) for c in small] == [10_000, 10_000, 5_000] and [len(c) for c in large] == [25_000]
    assert large[0].customers.slice(20_000).equals(small[2].customers)
    assert small[2].customers["customer_no"][0].as_py() == "C0000020001"
    assert large[0].monthly["customer_pos"].to_numpy().max() == 24_999


def test_layout_is_a_plausible_city_commercial_bank(layout):
    assert layout.head.level == "head_office" and len(layout.branches) == 8
    assert 55 <= len(layout.sub_branches) <= 65 and 280 <= len(layout.rms) <= 320
    assert {b.name for b in layout.branches} >= {"杭州分行", "宁波分行", "温州分行"}
    assert {login.username for login in layout.logins} == {"admin", "operator", "manager", "rm", "approver", "analyst"}
    rm = next(login for login in layout.logins if login.username == "rm")
    assert rm.org_code == layout.sub_branches[0].code and layout.rms[0].username == "rm"
    assert abs(layout.sub_weights.sum() - 1) < 1e-9


def test_identity_numbers_are_valid(frame):
    person = frame["segment"] != "corporate"
    ids = _bytes(frame["id_number"][person], 18)
    assert (resident_id_check_chars(ids[:, :17]) == ids[:, 17]).all()
    days = frame["birth_date"][person].astype("datetime64[D]")
    births = np.char.replace(np.datetime_as_string(days), "-", "").astype("S8").view(np.uint8)
    assert (ids[:, 6:14].reshape(-1) == births).all()
    female = frame["gender"][person] == "F"
    assert (((ids[:, 16] - ord("0")) % 2 == 0) == female).all()
    codes = _bytes(frame["id_number"][~person], 18)
    assert len(codes) > 0 and (uscc_check_chars(codes[:, :17]) == codes[:, 17]).all()
    phones = frame["phone"].astype(str)
    assert all(len(p) == 11 and p[0] == "1" and p[1] in "3456789" for p in phones)
    assert all(2 <= len(n) <= 4 for n in frame["name"][person])


def test_assets_sum_to_aum(frame):
    assets = frame["deposit_fen"] + frame["wealth_fen"] + frame["fund_fen"] + frame["insurance_fen"]
    assert (assets == frame["aum_fen"]).all()
    for column in ("deposit_fen", "wealth_fen", "fund_fen", "insurance_fen", "loan_fen", "aum_fen"):
        assert (frame[column] >= 0).all()
    assert not (frame["credit_card_activated"] & ~frame["has_credit_card"]).any()


def test_attributes_are_correlated(frame, block):
    aum = frame["aum_fen"] / 100
    segment = frame["segment"]
    assert aum[segment == "private"].min() >= PRIVATE_THRESHOLD_YUAN
    assert aum[segment == "private"].mean() > 20 * aum[segment == "retail"].mean()
    assert (segment == "retail").mean() > 0.8
    age = (np.datetime64("2026-10-31") - frame["birth_date"][segment != "corporate"].astype("datetime64[D]")).astype(int) / 365.25
    logins = frame["app_logins_month"][segment != "corporate"]
    assert logins[age < 35].mean() > 1.5 * logins[age > 60].mean()
    rich = aum > np.quantile(aum, 0.9)
    poor = aum < np.quantile(aum, 0.5)
    assert frame["wealth_fen"][rich].astype(bool).mean() > 3 * frame["wealth_fen"][poor].astype(bool).mean()
    has_rm = np.array([u is not None for u in frame["rm_username"]])
    assert 0.5 < has_rm.mean() < 0.95 and has_rm[segment == "private"].mean() > 0.9
    assert 0.15 < frame["payroll_flag"].mean() < 0.4


def test_monthly_history_follows_the_trajectories(block):
    positions = block.monthly["customer_pos"].to_numpy()
    aum = block.monthly["aum_fen"].to_numpy()
    logins = block.monthly["app_logins"].to_numpy()
    months = block.monthly["month"].to_numpy()
    assert set(months) <= set(history_months(AS_OF)) and months.max() == np.datetime64("2026-10-01")
    counts = np.bincount(positions, minlength=len(block))
    trend = block.trend
    assert (counts[trend != NEW] == MONTHS).all() and (counts[trend == NEW] <= MONTHS).all()
    first = np.full(len(block), -1)
    first[positions[::-1]] = aum[::-1]  # the earliest month of each customer
    last = block.customers["aum_fen"].to_numpy()
    assert (first[trend == DECLINING] > last[trend == DECLINING]).mean() > 0.95
    assert (first[trend == GROWING] < last[trend == GROWING]).mean() > 0.95
    assert logins[np.isin(positions, np.flatnonzero(trend == DORMANT))].sum() == 0
    latest = months == np.datetime64("2026-10-01")
    assert (aum[latest] == last[positions[latest]]).all()


def test_default_as_of_is_the_last_complete_month():
    assert default_as_of(date(2026, 11, 23)) == date(2026, 10, 1)
    assert default_as_of(date(2027, 1, 5)) == date(2026, 12, 1)


def test_seed_demo_creates_the_bank_once(db, client):
    summary = seed_demo(db, customers=1_500, as_of=AS_OF)
    assert summary.created and summary.customers == 1_500 and summary.orgs == 69
    assert db.scalar(select(func.count()).select_from(Customer)) == 1_500
    assert db.scalar(select(func.count()).select_from(CustomerMonthly)) == summary.monthly_rows > 1_500 * 11
    assert db.scalar(select(func.count()).select_from(User)) == summary.users == 306
    assert db.scalar(select(func.count()).where(Customer.lifecycle_stage.is_not(None))) == 0
    head = db.scalar(select(Org).where(Org.level == "head_office"))
    assert head.path == f"/{head.id}/"
    assert db.scalar(select(func.count()).where(Org.path.like(head.path + "%"))) == 69

    again = seed_demo(db, customers=1_500, as_of=AS_OF)
    assert not again.created and again.customers == 1_500
    assert db.scalar(select(func.count()).select_from(AuditRecord).where(AuditRecord.action == "demo.seed")) == 1

    rm_headers = login_headers(client, "rm", DEMO_PASSWORD)
    rows = client.get("/api/customers", headers=rm_headers).json()
    assert rows["total"] > 0 and {c["rm_name"] for c in rows["items"]} == {summary.logins[3].display_name}
    detail = client.get(f"/api/customers/{rows['items'][0]['customer_no']}", headers=rm_headers).json()
    assert 1 <= len(detail["monthly"]) <= 12 and detail["monthly"][-1]["month"] == "2026-10-01"
    assert detail["monthly"][-1]["aum_fen"] == detail["profile"]["aum_fen"]
    manager = client.get("/api/customers", headers=login_headers(client, "manager", DEMO_PASSWORD)).json()
    everyone = client.get("/api/customers", headers=login_headers(client, "operator", DEMO_PASSWORD)).json()
    assert rows["total"] < manager["total"] < everyone["total"] == 1_500


def test_seed_demo_refuses_a_database_with_another_bank(db):
    create_org(db, name="别的银行")
    db.commit()
    with pytest.raises(Conflict):
        seed_demo(db, customers=10)


def test_generate_parquet_streams_in_chunks(tmp_path, layout):
    seen = []
    summary = generate_parquet(tmp_path, customers=50_000, chunk=10_000, as_of=AS_OF,
                               progress=lambda done, total: seen.append((done, total)))
    customers = pq.ParquetFile(summary.customers_path)
    monthly = pq.ParquetFile(summary.monthly_path)
    assert customers.metadata.num_rows == summary.customers == 50_000
    assert customers.metadata.num_row_groups == 5 and seen[-1] == (50_000, 50_000) and len(seen) == 5
    assert monthly.metadata.num_rows == summary.monthly_rows
    assert monthly.schema_arrow.names == ["customer_no", "month", "aum_fen", "app_logins"]
    first = customers.read_row_group(0)
    assert first.equals(generate_block(layout, seed=42, block=0, as_of=AS_OF).customers)
    numbers = pq.read_table(summary.customers_path, columns=["customer_no"])["customer_no"]
    assert len(numbers.unique()) == 50_000
