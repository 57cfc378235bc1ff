"""Two approvers deciding the same step at the same moment: exactly one transition wins (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading

from sqlalchemy import select

from omniloop.approvals import service
from omniloop.approvals.models import ApprovalAssignee, ApprovalEvent, ApprovalStep
from omniloop.core.db import session_factory
from omniloop.core.errors import OmniloopError
from omniloop.org.models import User
from omniloop.org.roles import Role
from tests.factories import create_bank, create_user
from tests.plans.factories import create_plan, create_template, principal, rule


def _race(engine, monkeypatch, user_ids: list[int], step_id: int) -> list[str]:
    """Both threads read the step, meet at a barrier, then both try the guarded write."""
    barrier = threading.Barrier(len(user_ids), timeout=20)
    original = service._guarded_step_update

    def gated(session, step, **values):
        barrier.wait()
        return original(session, step, **values)

    monkeypatch.setattr(service, "_guarded_step_update", gated)
    outcomes: dict[int, str] = {}

    def run(user_id: int) -> None:
        with session_factory(engine)() as session:
            try:
                service.decide(session, principal=principal(session, session.get(User, user_id)), step_id=step_id,
                               action="approve", comment="同意")
                session.commit()
                outcomes[user_id] = "ok"
            except OmniloopError as exc:
                session.rollback()
                outcomes[user_id] = exc.code

    threads = [threading.Thread(target=run, args=(uid,)) for uid in user_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    monkeypatch.setattr(service, "_guarded_step_update", original)
    return [outcomes[uid] for uid in user_ids]


def test_concurrent_approvals_of_one_step_one_wins_and_none_is_lost(db, engine, monkeypatch):
    bank = create_bank(db)
    second = create_user(db, org=bank.head, role=Role.approver)
    db.commit()
    create_template(db, [{"name": "总行会签", "mode": "all", "approvers": [rule("approver", "head_office")]}])
    plan = create_plan(db, bank.users["operator"])
    instance = service.submit(db, principal=principal(db, bank.users["operator"]), plan=plan)
    db.commit()
    step_id = db.scalar(select(ApprovalStep.id).where(ApprovalStep.instance_id == instance.id))
    users = [bank.users["approver"].id, second.id]

    outcomes = _race(engine, monkeypatch, users, step_id)
    assert sorted(outcomes) == ["approval_conflict", "ok"]
    db.expire_all()
    step = db.get(ApprovalStep, step_id)
    assert (step.status, step.approvals, step.version) == ("pending", 1, 1)
    decided = db.scalars(select(ApprovalAssignee.user_id).where(ApprovalAssignee.step_id == step_id,
                                                                 ApprovalAssignee.decision.is_not(None))).all()
    winner = users[outcomes.index("ok")]
    loser = users[outcomes.index("approval_conflict")]
    assert decided == [winner]
    assert db.scalars(select(ApprovalEvent.actor_id).where(ApprovalEvent.action == "approve")).all() == [winner]

    # The loser simply retries and the step completes with both approvals counted.
    service.decide(db, principal=principal(db, db.get(User, loser)), step_id=step_id, action="approve")
    db.commit()
    db.refresh(step)
    db.refresh(plan)
    assert (step.status, step.approvals, plan.status) == ("approved", 2, "approved")


def test_concurrent_any_step_a_single_transition(db, engine, monkeypatch):
    bank = create_bank(db)
    second = create_user(db, org=bank.head, role=Role.approver)
    db.commit()
    create_template(db, [{"name": "总行或签", "mode": "any", "approvers": [rule("approver", "head_office")]}])
    plan = create_plan(db, bank.users["operator"])
    instance = service.submit(db, principal=principal(db, bank.users["operator"]), plan=plan)
    db.commit()
    step_id = db.scalar(select(ApprovalStep.id).where(ApprovalStep.instance_id == instance.id))
    outcomes = _race(engine, monkeypatch, [bank.users["approver"].id, second.id], step_id)
    assert sorted(outcomes) == ["approval_conflict", "ok"]
    db.expire_all()
    assert db.get(ApprovalStep, step_id).approvals == 1
    from omniloop.campaigns.models import Campaign

    assert len(db.scalars(select(Campaign).where(Campaign.plan_id == plan.id)).all()) == 1
