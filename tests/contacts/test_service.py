"""The bulk path on a real database: state loading, recording, idempotent re-runs and concurrent campaigns."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from omniloop.contacts import service, suppression
from omniloop.contacts.models import ContactDecision, OutboxMessage
from omniloop.contacts.policy import Proposal
from omniloop.core.db import session_factory
from tests.contacts.factories import cap, consent, create_campaign, quiet, sent, suppression_list
from tests.factories import create_bank, create_customer

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 Asia/Shanghai


def _proposals(campaign, customers, occasion="wave:1", channels=("sms",), at=NOW):
    return [Proposal(campaign.id, occasion, c.id, tuple(channels), campaign.campaign_type, campaign.priority,
                     campaign.expected_value_fen or 0, at) for c in customers]


def test_evaluate_reads_consents_lists_and_history_and_record_is_idempotent(db):
    bank = create_bank(db)
    customers = [create_customer(db, org=bank.sub_a, app_logins_month=3) for _ in range(6)]
    old = create_campaign(db, bank.head)
    campaign = create_campaign(db, bank.head, channels=("sms", "app_push"))
    cap(db, channel="sms", window_hours=168, max_contacts=1)
    sent(db, old, customers[0].id, "sms", NOW - timedelta(days=2))
    consent(db, customers[1].id, "sms", "granted", at=NOW - timedelta(days=3))
    consent(db, customers[1].id, "sms", "withdrawn", at=NOW - timedelta(days=1))  # the latest row wins
    consent(db, customers[2].id, "all", "withdrawn")
    suppression_list(db, bank.head, [customers[3].id], kind="dnd", name="全局免打扰")
    suppression_list(db, bank.head, [customers[4].id], campaign_id=campaign.id)
    db.commit()

    decisions = service.evaluate(db, proposals=_proposals(campaign, customers, channels=("sms", "app_push")), now=NOW)
    got = [(d.outcome, d.channel, d.reason) for d in decisions]
    assert got == [("allowed", "app_push", None), ("allowed", "app_push", None), ("skipped", "app_push", "no_consent"),
                   ("skipped", None, "dnd"), ("skipped", None, "suppressed_campaign"), ("allowed", "sms", None)]
    assert decisions[0].detail["tried"][0]["reason"] == "cap_week_sms"
    counts = service.record(db, campaign_id=campaign.id, wave_id=1, occasion="wave:1", decisions=decisions,
                            template_versions={"sms": 11, "app_push": 12}, grants={customers[5].id: 77}, now=NOW)
    db.commit()
    assert (counts["allowed"], counts["skipped"]) == (3, 3)
    row = db.scalars(select(OutboxMessage).where(OutboxMessage.customer_id == customers[5].id)).one()
    assert (row.channel, row.template_version_id, row.benefit_grant_id, row.status) == ("sms", 11, 77, "pending")
    assert row.fallback == [{"channel": "app_push", "template_version_id": 12}]

    # A re-run of the same occasion writes nothing twice and decides the same.
    again = service.evaluate(db, proposals=_proposals(campaign, customers, channels=("sms", "app_push")), now=NOW)
    assert [(d.outcome, d.channel) for d in again] == [(o, c) for o, c, _ in got]
    service.record(db, campaign_id=campaign.id, wave_id=1, occasion="wave:1", decisions=again, now=NOW)
    service.record(db, campaign_id=campaign.id, wave_id=1, occasion="wave:1", decisions=decisions, now=NOW)
    db.commit()
    assert db.scalar(select(func.count()).select_from(ContactDecision)) == 6
    assert db.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.campaign_id == campaign.id)) == 3

    # Consent withdrawn now is honoured at the next decision.
    consent(db, customers[5].id, "sms", "withdrawn")
    db.commit()
    other = create_campaign(db, bank.head)
    d = service.evaluate(db, proposals=_proposals(other, [customers[5]]), now=NOW, dry_run=True)[0]
    assert d.reason == "no_consent"
    assert suppression.suppressed(db, customer_ids=[c.id for c in customers],
                                  list_ids=[lst_id for lst_id in range(1, 100)]) == {customers[3].id, customers[4].id}


def test_quiet_hours_defer_the_outbox_row(db):
    bank = create_bank(db)
    customer = create_customer(db, org=bank.sub_a)
    campaign = create_campaign(db, bank.head)
    quiet(db, channel="sms")
    db.commit()
    late = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)  # 22:30 Shanghai
    decisions = service.evaluate(db, proposals=_proposals(campaign, [customer], at=late), now=late)
    assert decisions[0].outcome == "deferred"
    service.record(db, campaign_id=campaign.id, wave_id=None, occasion="wave:1", decisions=decisions, now=late)
    db.commit()
    row = db.scalars(select(OutboxMessage)).one()
    assert row.not_before == datetime(2026, 11, 24, 0, 0, tzinfo=UTC)


def test_three_campaigns_launched_at_once_never_exceed_a_cap(db, engine):
    """Three campaigns on overlapping audiences, each in its own thread and session, chunk by chunk."""
    bank = create_bank(db)
    customers = [create_customer(db, org=bank.sub_a) for _ in range(60)]
    campaigns = [create_campaign(db, bank.head, priority=p) for p in (3, 5, 7)]
    cap(db, channel="sms", window_hours=168, max_contacts=2)
    cap(db, channel=None, window_hours=24, max_contacts=1, name="day all")
    old = create_campaign(db, bank.head)
    for c in customers[:20]:
        sent(db, old, c.id, "sms", NOW - timedelta(days=3))
    db.commit()
    ids = [c.id for c in customers]
    audiences = [ids[0:45], ids[15:60], ids[5:55]]  # overlapping
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def run(campaign, audience, day):
        try:
            session = session_factory(engine)()
            start.wait()
            for chunk in range(0, len(audience), 10):
                part = audience[chunk:chunk + 10]
                proposals = [Proposal(campaign.id, f"wave:{day}", cid, ("sms",), "marketing", campaign.priority, 0,
                                      NOW + timedelta(days=day)) for cid in part]
                decisions = service.evaluate(session, proposals=proposals, now=NOW + timedelta(days=day))
                service.record(session, campaign_id=campaign.id, wave_id=day, occasion=f"wave:{day}",
                               decisions=decisions)
                session.commit()
            session.close()
        except BaseException as e:
            errors.append(e)

    # Two rounds a day apart (each campaign on its own day offset 0 and 1): caps span both.
    for day in (0, 1):
        threads = [threading.Thread(target=run, args=(c, a, day)) for c, a in zip(campaigns, audiences, strict=True)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
    db.expire_all()
    rows = db.execute(select(OutboxMessage.customer_id, OutboxMessage.not_before, OutboxMessage.campaign_id)).all()
    by_customer: dict[int, list[datetime]] = {}
    for cid, at, _ in rows:
        by_customer.setdefault(cid, []).append(at)
    assert len(rows) > 60
    for cid, times in by_customer.items():
        for t in times:
            in_day = [x for x in times if abs((x - t).total_seconds()) < 24 * 3600]
            in_week = [x for x in times if abs((x - t).total_seconds()) < 168 * 3600]
            assert len(in_day) <= 1, (cid, times)
            assert len(in_week) <= 2, (cid, times)
    decided = db.scalar(select(func.count()).select_from(ContactDecision))
    assert decided == 2 * sum(len(a) for a in audiences)
