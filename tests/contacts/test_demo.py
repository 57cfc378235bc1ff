"""The demo contact policy: default rules, a DND list, opt-outs, the dispatcher schedule — once."""

from __future__ import annotations

from sqlalchemy import func, select

from omniloop.contacts.models import ContactRule, CustomerConsent, SuppressionEntry
from omniloop.core.audit import SYSTEM
from omniloop.demo.contacts import RULES, seed_contacts
from omniloop.jobs.models import JobSchedule
from tests.factories import create_bank, create_customer


def test_seed_contacts_is_idempotent(db):
    bank = create_bank(db)
    for _ in range(30):
        create_customer(db, org=bank.sub_a)
    first = seed_contacts(db, actor=SYSTEM)
    db.commit()
    second = seed_contacts(db, actor=SYSTEM)
    db.commit()
    assert first["rules"] == len(RULES) and first["dnd"] == 12 and first["consents"] == 60
    assert second == {"rules": 0, "dnd": 0, "consents": 0}
    assert db.scalar(select(func.count()).select_from(ContactRule)) == len(RULES)
    assert db.scalar(select(func.count()).select_from(SuppressionEntry)) == 12
    assert db.scalar(select(func.count()).select_from(CustomerConsent)) == 60
    assert db.scalar(select(JobSchedule.job_name).where(JobSchedule.key == "outbox.dispatch")) == "outbox.dispatch"
