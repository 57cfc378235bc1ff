"""Reserve / confirm / release (D4): partial grants, idempotent re-runs, budget, validity, exactly-once release."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from omniloop.benefits import service
from omniloop.benefits.models import Benefit, BenefitGrant
from omniloop.core.errors import OmniloopError
from tests.benefits.factories import create_benefit, create_campaign
from tests.factories import create_bank, create_customer


@pytest.fixture
def world(db):
    bank = create_bank(db)
    campaign = create_campaign(db, bank.users["operator"], bank.head)
    customers = [create_customer(db, org=bank.sub_a).id for _ in range(12)]
    db.commit()
    return bank, campaign, customers


def _benefit(db, benefit_id) -> Benefit:
    return db.get(Benefit, benefit_id, populate_existing=True)


def test_reserve_is_partial_when_inventory_runs_out_and_idempotent_on_rerun(db, world):
    bank, campaign, customers = world
    benefit = create_benefit(db, bank.head, inventory_total=5, unit_cost_fen=300)
    grants = service.reserve(db, benefit_id=benefit.id, campaign_id=campaign.id, occasion="wave:1",
                             customer_ids=customers[:8])
    db.commit()
    assert set(grants) == set(customers[:5])  # first come, in the order given
    b = _benefit(db, benefit.id)
    assert (b.inventory_left, b.budget_used_fen) == (0, 1500)

    again = service.reserve(db, benefit_id=benefit.id, campaign_id=campaign.id, occasion="wave:1",
                            customer_ids=customers[:8])
    db.commit()
    assert again == grants
    assert db.scalar(select(func.count()).select_from(BenefitGrant)) == 5
    assert _benefit(db, benefit.id).inventory_left == 0


def test_budget_limits_grants_before_inventory(db, world):
    bank, campaign, customers = world
    benefit = create_benefit(db, bank.head, inventory_total=100, unit_cost_fen=2_000, budget_fen=7_000)
    grants = service.reserve(db, benefit_id=benefit.id, campaign_id=campaign.id, occasion="wave:1",
                             customer_ids=customers)
    db.commit()
    assert len(grants) == 3
    b = _benefit(db, benefit.id)
    assert (b.inventory_left, b.budget_used_fen) == (97, 6_000)
    assert b.budget_used_fen <= b.budget_fen


def test_duplicate_customer_ids_reserve_once(db, world):
    bank, campaign, customers = world
    benefit = create_benefit(db, bank.head, inventory_total=10)
    grants = service.reserve(db, benefit_id=benefit.id, campaign_id=campaign.id, occasion="o",
                             customer_ids=[customers[0], customers[0], customers[1]])
    db.commit()
    assert len(grants) == 2 and _benefit(db, benefit.id).inventory_left == 8


@pytest.mark.parametrize(("fields", "code"), [
    ({"status": "inactive"}, "benefit_inactive"),
    ({"valid_to": datetime.now(UTC) - timedelta(days=1)}, "benefit_expired"),
    ({"valid_from": datetime.now(UTC) + timedelta(days=1)}, "benefit_not_started"),
])
def test_unavailable_benefits_raise_clear_errors(db, world, fields, code):
    bank, campaign, customers = world
    benefit = create_benefit(db, bank.head, **fields)
    with pytest.raises(OmniloopError) as err:
        service.reserve(db, benefit_id=benefit.id, campaign_id=campaign.id, occasion="o", customer_ids=customers)
    assert (err.value.code, err.value.status) == (code, 409)
    db.rollback()
    assert _benefit(db, benefit.id).inventory_left == 100


def test_missing_benefit_is_404(db, world):
    _, campaign, customers = world
    with pytest.raises(OmniloopError) as err:
        service.reserve(db, benefit_id=999_999, campaign_id=campaign.id, occasion="o", customer_ids=customers)
    assert (err.value.code, err.value.status) == ("benefit_not_found", 404)


def test_confirm_and_release_return_inventory_and_budget_exactly_once(db, world):
    bank, campaign, customers = world
    benefit = create_benefit(db, bank.head, inventory_total=10, unit_cost_fen=500, budget_fen=10_000)
    grants = service.reserve(db, benefit_id=benefit.id, campaign_id=campaign.id, occasion="o",
                             customer_ids=customers[:4])
    db.commit()
    ids = list(grants.values())
    assert service.confirm(db, grant_ids=ids[:2]) == 2
    assert service.confirm(db, grant_ids=ids[:2]) == 0  # already granted
    db.commit()
    assert service.release(db, grant_ids=[ids[1], ids[2]], reason="final_failure") == 2
    assert service.release(db, grant_ids=[ids[1], ids[2]], reason="again") == 0
    db.commit()
    b = _benefit(db, benefit.id)
    assert (b.inventory_left, b.budget_used_fen) == (8, 1_000)
    statuses = dict(db.execute(select(BenefitGrant.id, BenefitGrant.status)).all())
    assert [statuses[i] for i in ids] == ["granted", "released", "released", "reserved"]
    released = db.get(BenefitGrant, ids[2])
    assert released.release_reason == "final_failure" and released.released_at is not None
    # A released grant stays released for its occasion: a re-run does not reserve it again.
    rerun = service.reserve(db, benefit_id=benefit.id, campaign_id=campaign.id, occasion="o",
                            customer_ids=customers[:4])
    assert set(rerun) == {customers[0], customers[3]}
    assert service.check_consistency(db, benefit_id=benefit.id) == {
        "inventory_total": 10, "inventory_left": 8, "live_grants": 2, "budget_fen": 10_000,
        "budget_used_fen": 1_000, "live_cost_fen": 1_000}


def test_adjust_inventory_never_goes_below_zero(db, world):
    bank, _, _ = world
    benefit = create_benefit(db, bank.head, inventory_total=3)
    assert service.adjust_inventory(db, benefit_id=benefit.id, delta=-4) is False
    assert service.adjust_inventory(db, benefit_id=benefit.id, delta=5) is True
    db.commit()
    b = _benefit(db, benefit.id)
    assert (b.inventory_total, b.inventory_left) == (8, 8)


def test_reserve_in_large_batches(db, world):
    bank, campaign, _ = world
    many = [create_customer(db, org=bank.sub_a).id for _ in range(1_200)]
    db.commit()
    benefit = create_benefit(db, bank.head, inventory_total=1_100)
    grants = service.reserve(db, benefit_id=benefit.id, campaign_id=campaign.id, occasion="big",
                             customer_ids=many)
    db.commit()
    assert len(grants) == 1_100 and len(set(grants.values())) == 1_100
    assert _benefit(db, benefit.id).inventory_left == 0
