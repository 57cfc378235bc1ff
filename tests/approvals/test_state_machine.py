"""The countersign state machine (会签), driven through the service: every transition and step mode."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from omniloop.approvals import service
from omniloop.approvals.models import ApprovalAssignee, ApprovalEvent, ApprovalStep
from omniloop.approvals.schemas import DelegationCreate
from omniloop.campaigns.models import Campaign
from omniloop.core.db import utcnow
from omniloop.core.errors import OmniloopError
from omniloop.notifications.models import Notification
from omniloop.org.roles import Role
from omniloop.plans import service as plan_service
from omniloop.plans.schemas import PlanUpdate
from tests.factories import create_bank, create_user
from tests.plans.factories import branch_then_head_office, create_plan, create_template, principal, rule


def _steps(db, instance_id):
    return list(db.scalars(select(ApprovalStep).where(ApprovalStep.instance_id == instance_id)
                           .order_by(ApprovalStep.position)))


def _decide(db, user, step, action="approve", **kw):
    instance = service.decide(db, principal=principal(db, user), step_id=step.id, action=action,
                              comment=kw.pop("comment", "同意" if action == "approve" else "预算过高"), **kw)
    db.commit()
    return instance


def _error(fn) -> OmniloopError:
    with pytest.raises(OmniloopError) as info:
        fn()
    return info.value


def test_submit_approve_through_two_steps_creates_the_campaign_draft(db):
    bank = create_bank(db)
    operator, manager, approver = (bank.users[k] for k in ("operator", "manager_a", "approver"))
    branch_then_head_office(db)
    plan = create_plan(db, operator, owner_org=bank.branch_a)

    instance = service.submit(db, principal=principal(db, operator), plan=plan)
    db.commit()
    assert plan.status == "in_review"
    first, second = _steps(db, instance.id)
    assert (first.status, second.status) == ("pending", "waiting")
    assert [a.user_id for a in db.scalars(select(ApprovalAssignee).where(ApprovalAssignee.step_id == first.id))] \
        == [manager.id]
    pending = db.scalars(select(Notification.user_id).where(Notification.kind == "approval.pending")).all()
    assert pending == [manager.id]

    # The head-office approver is not on step 1 yet.
    assert _error(lambda: _decide(db, approver, first)).code == "not_an_approver"
    _decide(db, manager, first)
    db.refresh(first), db.refresh(second)
    assert (first.status, second.status) == ("approved", "pending")
    assert _error(lambda: _decide(db, manager, first)).code == "step_not_open"

    _decide(db, approver, second)
    db.refresh(plan)
    assert (plan.status, plan.approved_version) == ("approved", 1)
    assert instance.status == "approved"
    campaign = db.scalar(select(Campaign).where(Campaign.plan_id == plan.id))
    assert campaign.name == plan.title and campaign.plan_version == 1
    assert campaign.start_date == plan.start_date and campaign.end_date == plan.end_date
    assert campaign.code.startswith("MKT-") and campaign.code.endswith("-00001")
    assert "提升新客首刷率" in campaign.description
    actions = db.scalars(select(ApprovalEvent.action).where(ApprovalEvent.instance_id == instance.id)
                         .order_by(ApprovalEvent.id)).all()
    assert actions == ["submit", "step_opened", "approve", "step_opened", "approve", "approved", "campaign_created"]
    assert db.scalar(select(Notification).where(Notification.kind == "plan.approved")).user_id == operator.id
    # Approved is final: no resubmission, no edit.
    assert _error(lambda: service.submit(db, principal=principal(db, operator), plan=plan)).code \
        == "plan_not_submittable"
    assert _error(lambda: plan_service.update_plan(session=db, principal=principal(db, operator), plan=plan,
                                                   data=PlanUpdate(title="x"))).code == "plan_locked"


def test_reject_revise_resubmit_makes_a_new_version(db):
    bank = create_bank(db)
    operator, manager, approver = (bank.users[k] for k in ("operator", "manager_a", "approver"))
    branch_then_head_office(db)
    plan = create_plan(db, operator, owner_org=bank.branch_a)
    first_instance = service.submit(db, principal=principal(db, operator), plan=plan)
    db.commit()
    step = _steps(db, first_instance.id)[0]
    _decide(db, manager, step, "reject", comment="预算过高，请压降至30万")
    db.refresh(plan)
    assert plan.status == "rejected" and first_instance.status == "rejected"
    assert [s.status for s in _steps(db, first_instance.id)] == ["rejected", "cancelled"]
    rejected_note = db.scalar(select(Notification).where(Notification.kind == "plan.rejected"))
    assert rejected_note.user_id == operator.id and "压降" in rejected_note.body_zh

    op = principal(db, operator)
    plan_service.update_plan(session=db, principal=op, plan=plan, data=PlanUpdate(budget_fen=30_000_000))
    plan_service.update_plan(session=db, principal=op, plan=plan, data=PlanUpdate(title="信用卡新客首刷礼（修订）"))
    db.commit()
    assert plan.version == 3  # after the first submission every save is a new version
    versions = plan_service.list_versions(db, plan)
    assert [(v.version, v.frozen) for v in versions] == [(3, False), (2, False), (1, True)]
    assert versions[-1].data["budget_fen"] == 50_000_000

    second_instance = service.submit(db, principal=op, plan=plan)
    db.commit()
    assert second_instance.plan_version == 3 and plan.status == "in_review"
    first, second = _steps(db, second_instance.id)
    _decide(db, manager, first)
    _decide(db, approver, second)
    db.refresh(plan)
    assert (plan.status, plan.approved_version) == ("approved", 3)
    events = db.scalars(select(ApprovalEvent.action).where(ApprovalEvent.instance_id == second_instance.id)
                        .order_by(ApprovalEvent.id)).all()
    assert events[0] == "resubmit"
    assert db.scalar(select(Campaign.plan_version).where(Campaign.plan_id == plan.id)) == 3


def test_withdraw_then_decisions_are_refused_and_resubmission_works(db):
    bank = create_bank(db)
    operator, manager = bank.users["operator"], bank.users["manager_a"]
    branch_then_head_office(db)
    plan = create_plan(db, operator, owner_org=bank.branch_a)
    instance = service.submit(db, principal=principal(db, operator), plan=plan)
    db.commit()
    step = _steps(db, instance.id)[0]
    service.withdraw(db, principal=principal(db, operator), plan=plan, comment="补充材料")
    db.commit()
    db.refresh(plan), db.refresh(step)
    assert (plan.status, instance.status, step.status) == ("withdrawn", "withdrawn", "cancelled")
    assert _error(lambda: _decide(db, manager, step)).code == "approval_not_in_progress"
    assert _error(lambda: service.withdraw(db, principal=principal(db, operator), plan=plan)).code \
        == "plan_not_in_review"
    assert db.scalar(select(Notification).where(Notification.kind == "approval.withdrawn")).user_id == manager.id
    again = service.submit(db, principal=principal(db, operator), plan=plan)
    db.commit()
    assert again.id != instance.id and plan.status == "in_review"


def _group(db, bank, mode, required=None, size=3):
    approvers = [bank.users["approver"]] + [create_user(db, org=bank.head, role=Role.approver) for _ in range(size - 1)]
    db.commit()
    create_template(db, [{"name": "总行会签", "mode": mode, "required": required,
                          "approvers": [rule("approver", "head_office")]}])
    plan = create_plan(db, bank.users["operator"])
    instance = service.submit(db, principal=principal(db, bank.users["operator"]), plan=plan)
    db.commit()
    return plan, instance, _steps(db, instance.id)[0], approvers


def test_parallel_all_needs_every_approver_and_one_reject_rejects(db):
    bank = create_bank(db)
    plan, instance, step, approvers = _group(db, bank, "all")
    assert step.required == 3
    _decide(db, approvers[0], step)
    _decide(db, approvers[1], step)
    db.refresh(step)
    assert (step.status, step.approvals) == ("pending", 2) and plan.status == "in_review"
    assert _error(lambda: _decide(db, approvers[0], step)).code == "already_decided"
    _decide(db, approvers[2], step)
    db.refresh(plan)
    assert plan.status == "approved"

    plan2 = create_plan(db, bank.users["operator"], title="理财到期挽留")
    inst2 = service.submit(db, principal=principal(db, bank.users["operator"]), plan=plan2)
    db.commit()
    step2 = _steps(db, inst2.id)[0]
    _decide(db, approvers[0], step2)
    _decide(db, approvers[1], step2, "reject")
    db.refresh(plan2), db.refresh(step2)
    assert (step2.status, plan2.status) == ("rejected", "rejected")


def test_parallel_any_first_decision_decides(db):
    bank = create_bank(db)
    plan, instance, step, approvers = _group(db, bank, "any")
    _decide(db, approvers[2], step)
    db.refresh(plan), db.refresh(step)
    assert (step.status, plan.status) == ("approved", "approved")
    assert _error(lambda: _decide(db, approvers[0], step)).code == "approval_not_in_progress"
    assert db.scalar(select(ApprovalAssignee.decision).where(ApprovalAssignee.user_id == approvers[0].id)) is None


def test_parallel_n_of_m_approves_at_n_and_rejects_when_n_is_out_of_reach(db):
    bank = create_bank(db)
    plan, instance, step, approvers = _group(db, bank, "n_of_m", required=2, size=3)
    _decide(db, approvers[0], step, "reject")
    db.refresh(step)
    assert step.status == "pending"  # 2 of the remaining 2 can still approve
    _decide(db, approvers[1], step)
    db.refresh(step)
    assert step.status == "pending"
    _decide(db, approvers[2], step)
    db.refresh(plan), db.refresh(step)
    assert (step.status, plan.status) == ("approved", "approved")

    plan2 = create_plan(db, bank.users["operator"], title="代发工资客户激活")
    inst2 = service.submit(db, principal=principal(db, bank.users["operator"]), plan=plan2)
    db.commit()
    step2 = _steps(db, inst2.id)[0]
    _decide(db, approvers[0], step2, "reject")
    _decide(db, approvers[1], step2, "reject")  # only 1 left: N=2 is out of reach
    db.refresh(plan2), db.refresh(step2)
    assert (step2.status, plan2.status) == ("rejected", "rejected")


def test_eligible_approvers_are_fixed_when_the_step_opens(db):
    bank = create_bank(db)
    operator, manager = bank.users["operator"], bank.users["manager_a"]
    branch_then_head_office(db)
    plan = create_plan(db, operator, owner_org=bank.sub_a)  # a sub-branch plan: its branch's manager decides
    instance = service.submit(db, principal=principal(db, operator), plan=plan)
    db.commit()
    step = _steps(db, instance.id)[0]
    newcomer = create_user(db, org=bank.branch_a, role=Role.branch_manager)
    manager.org_id = bank.branch_b.id  # moved after the step opened: still the recorded approver
    db.commit()
    assert _error(lambda: _decide(db, newcomer, step)).code == "not_an_approver"
    assignee = db.scalar(select(ApprovalAssignee).where(ApprovalAssignee.step_id == step.id))
    assert (assignee.user_id, assignee.org_id) == (manager.id, bank.branch_a.id)


def test_delegate_decides_on_behalf_of_the_approver(db):
    bank = create_bank(db)
    operator, approver = bank.users["operator"], bank.users["approver"]
    deputy = create_user(db, org=bank.head, role=Role.approver, username="deputy")
    outsider = create_user(db, org=bank.head, role=Role.analyst, username="analyst1")
    db.commit()
    create_template(db, [{"name": "风险合规审批", "mode": "single",
                          "approvers": [rule("approver", "head_office")]}])
    # deputy is also an approver at head office; restrict the step to the one approver by a specific rule
    plan = create_plan(db, operator)
    now = utcnow()
    err = _error(lambda: service.create_delegation(db, principal=principal(db, approver), data=DelegationCreate(
        delegate_id=outsider.id, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=3))))
    assert err.code == "delegate_cannot_approve"
    instance = service.submit(db, principal=principal(db, operator), plan=plan)
    db.commit()
    step = _steps(db, instance.id)[0]
    db.execute(ApprovalAssignee.__table__.delete().where(ApprovalAssignee.user_id == deputy.id))
    db.commit()
    assert _error(lambda: _decide(db, deputy, step)).code == "not_an_approver"
    service.create_delegation(db, principal=principal(db, approver), data=DelegationCreate(
        delegate_id=deputy.id, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=3), reason="年假"))
    db.commit()
    inbox = service.inbox(db, principal=principal(db, deputy), page=_page())
    assert [(i.step_id, i.on_behalf_of.id) for i in inbox.items] == [(step.id, approver.id)]
    _decide(db, deputy, step)
    event = db.scalar(select(ApprovalEvent).where(ApprovalEvent.action == "approve"))
    assert (event.actor_id, event.on_behalf_of_id) == (deputy.id, approver.id)
    assignee = db.scalar(select(ApprovalAssignee).where(ApprovalAssignee.step_id == step.id))
    assert (assignee.user_id, assignee.decided_by_id, assignee.decision) == (approver.id, deputy.id, "approve")
    db.refresh(plan)
    assert plan.status == "approved"


def _page():
    from omniloop.core.pagination import PageParams

    return PageParams(page=1, page_size=20)


def test_submit_refuses_without_template_or_approvers(db):
    bank = create_bank(db)
    operator = bank.users["operator"]
    plan = create_plan(db, operator, owner_org=bank.branch_b)
    assert _error(lambda: service.submit(db, principal=principal(db, operator), plan=plan)).code \
        == "no_workflow_template"
    branch_then_head_office(db)
    # branch_b has no branch manager
    err = _error(lambda: service.submit(db, principal=principal(db, operator), plan=plan))
    assert err.code == "no_eligible_approvers" and err.details["step"] == 1
    db.rollback()
    db.refresh(plan)
    assert plan.status == "draft"


def test_template_rejects_roles_that_cannot_approve(db):
    create_bank(db)
    err = _error(lambda: create_template(db, [{"name": "x", "mode": "single", "approvers": [rule("rm", "plan_org")]}]))
    assert err.code == "role_cannot_approve" and err.status == 422
