"""Outbox dispatch: due rows only, sink delivery, rendering, failure and timeout fallback, grants, receipts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from omniloop.benefits import service as benefit_service
from omniloop.benefits.models import Benefit, BenefitGrant
from omniloop.contacts import channels, dispatch, service
from omniloop.contacts.models import ContactDecision, OutboxMessage
from omniloop.contacts.policy import Proposal
from omniloop.core.db import session_factory
from tests.contacts.factories import consent, create_campaign
from tests.factories import create_bank, create_customer

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@dataclass
class Rendered:
    subject: str | None
    body: str
    fields: dict


def fake_render(session, *, template_version_id, customers, benefit=None, campaign=None):
    return [Rendered(None, f"v{template_version_id} {c.customer_no} {campaign.name}", {}) for c in customers]


class Failing:
    name = "failing"

    def __init__(self, status="failed"):
        self.status = status
        self.sent: list[int] = []

    def send(self, messages):
        self.sent.extend(m.outbox_id for m in messages)
        return [channels.SendResult(m.outbox_id, self.status, error="provider said no") for m in messages]


@pytest.fixture(autouse=True)
def _fakes(monkeypatch):
    monkeypatch.setattr(dispatch, "render_many", fake_render)
    yield
    channels.unregister("app_push")


def _wave(db, bank, *, customers=2, at=NOW, benefit=None):
    people = [create_customer(db, org=bank.sub_a, app_logins_month=2) for _ in range(customers)]
    campaign = create_campaign(db, bank.head, channels=("app_push", "sms"), fallback_timeout_minutes=30)
    db.commit()
    proposals = [Proposal(campaign.id, "wave:1", c.id, ("app_push", "sms"), "marketing", 5, 0, at) for c in people]
    decisions = service.evaluate(db, proposals=proposals, now=at)
    grants = {}
    if benefit is not None:
        grants = benefit_service.reserve(db, benefit_id=benefit.id, campaign_id=campaign.id, occasion="wave:1",
                                         customer_ids=[c.id for c in people], now=at)
    service.record(db, campaign_id=campaign.id, wave_id=1, occasion="wave:1", decisions=decisions,
                   template_versions={"app_push": 7, "sms": 8}, grants=grants, now=at)
    db.commit()
    return campaign, people


def _rows(db):
    db.expire_all()
    return db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


def test_sink_delivers_due_rows_only_and_never_twice(db, engine):
    bank = create_bank(db)
    _wave(db, bank)
    _wave(db, bank, customers=1, at=NOW + timedelta(hours=1))  # not due yet
    factory = session_factory(engine)
    counts = dispatch.dispatch_once(factory, now=NOW)
    assert (counts["claimed"], counts["delivered"]) == (2, 2)
    rows = _rows(db)
    assert [r.status for r in rows] == ["delivered", "delivered", "pending"]
    assert rows[0].payload["body"].startswith("v7 C") and rows[0].attempts == 1
    assert rows[0].provider_message_id == f"sink-{rows[0].id}"
    assert dispatch.dispatch_once(factory, now=NOW)["claimed"] == 0
    assert dispatch.dispatch_once(factory, now=NOW + timedelta(hours=1))["delivered"] == 1
    assert channels.registered()["sms"] == "sink"


def test_claim_is_compare_and_set(db, engine):
    bank = create_bank(db)
    _wave(db, bank)
    factory = session_factory(engine)
    with factory() as a, factory() as b:
        first = dispatch.claim(a, now=NOW)
        a.commit()
        second = dispatch.claim(b, now=NOW)
        b.commit()
    assert len(first) == 2 and second == []


def test_failure_falls_back_after_rechecking_policy_and_final_failure_releases_the_grant(db, engine):
    bank = create_bank(db)
    benefit = Benefit(code="B1", name="券", kind="coupon", inventory_total=10, inventory_left=10,
                      owner_org_id=bank.head.id)
    db.add(benefit)
    db.commit()
    campaign, people = _wave(db, bank, benefit=benefit)
    consent(db, people[1].id, "sms", "withdrawn")  # withdrawn after the wave: the fallback must honour it
    db.commit()
    failing = Failing()
    channels.register("app_push", failing)
    factory = session_factory(engine)
    counts = dispatch.dispatch_once(factory, now=NOW)
    assert (counts["failed"], counts["fallback"], counts["released"]) == (2, 1, 1)
    rows = _rows(db)
    assert [(r.customer_id, r.channel, r.status) for r in rows] == [
        (people[0].id, "app_push", "failed"), (people[1].id, "app_push", "failed"), (people[0].id, "sms", "pending")]
    assert rows[2].template_version_id == 8 and rows[2].benefit_grant_id == rows[0].benefit_grant_id
    skipped = db.scalars(select(ContactDecision).where(ContactDecision.customer_id == people[1].id,
                                                       ContactDecision.channel == "sms")).one()
    assert (skipped.outcome, skipped.reason, skipped.detail["fallback_from"]) == ("skipped", "no_consent", "app_push")
    grants = {g.customer_id: g.status for g in db.scalars(select(BenefitGrant))}
    assert grants == {people[0].id: "reserved", people[1].id: "released"}
    assert dispatch.dispatch_once(factory, now=NOW)["delivered"] == 1
    db.expire_all()
    assert {g.customer_id: g.status for g in db.scalars(select(BenefitGrant))}[people[0].id] == "granted"
    assert db.get(Benefit, benefit.id).inventory_left == 9


def test_no_receipt_within_the_timeout_moves_on_and_receipts_are_idempotent(db, engine):
    bank = create_bank(db)
    _wave(db, bank)
    quiet = Failing(status="sent")
    channels.register("app_push", quiet)
    factory = session_factory(engine)
    assert dispatch.dispatch_once(factory, now=NOW)["sent"] == 2
    first, second = _rows(db)
    with factory() as session:
        row = dispatch.receipt(session, outbox_id=first.id, status="delivered", now=NOW + timedelta(minutes=5))
        session.commit()
        assert row.status == "delivered"
        # A late duplicate receipt changes nothing.
        assert dispatch.receipt(session, outbox_id=first.id, status="failed").status == "delivered"
    assert dispatch.dispatch_once(factory, now=NOW + timedelta(minutes=29))["fallback"] == 0
    counts = dispatch.dispatch_once(factory, now=NOW + timedelta(minutes=31))
    assert counts["fallback"] == 1
    rows = _rows(db)
    assert [(r.channel, r.status) for r in rows] == [("app_push", "delivered"), ("app_push", "failed"),
                                                     ("sms", "pending")]
    assert rows[1].last_error.startswith("timeout")
    assert quiet.sent == [first.id, second.id]  # nothing was sent twice


def test_a_paused_campaigns_rows_wait_in_the_outbox_until_it_resumes(db, engine):
    bank = create_bank(db)
    campaign, _ = _wave(db, bank)
    campaign.status = "paused"
    db.commit()
    factory = session_factory(engine)
    assert dispatch.dispatch_once(factory, now=NOW)["claimed"] == 0
    assert {r.status for r in _rows(db)} == {"pending"}
    campaign.status = "running"
    db.commit()
    assert dispatch.dispatch_once(factory, now=NOW)["delivered"] == 2
    assert {r.status for r in _rows(db)} == {"delivered"}
