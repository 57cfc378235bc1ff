"""Campaign drafts from approved plans (D1) and the launch guard: nothing launches without an approved plan."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from omniloop.approvals import service as approval_service
from omniloop.campaigns import service
from omniloop.campaigns.models import Campaign
from omniloop.core.audit import AuditRecord
from omniloop.core.errors import OmniloopError
from omniloop.org.roles import Role
from tests.factories import create_bank, create_user, login_headers
from tests.plans.factories import branch_then_head_office, create_plan, principal


def _approve(db, bank, plan):
    instance = approval_service.submit(db, principal=principal(db, bank.users["operator"]), plan=plan)
    db.commit()
    for user in (bank.users["manager_a"], bank.users["approver"]):
        step = next(s for s in approval_service.plan_approvals(db, plan).instances[0].steps if s.status == "pending")
        approval_service.decide(db, principal=principal(db, user), step_id=step.id, action="approve")
        db.commit()
    return instance


def test_codes_are_sequential_and_launch_needs_the_approved_version(db):
    bank = create_bank(db)
    branch_then_head_office(db)
    plans = [create_plan(db, bank.users["operator"], owner_org=bank.branch_a, title=f"活动{i}") for i in range(2)]
    for plan in plans:
        _approve(db, bank, plan)
    campaigns = db.scalars(select(Campaign).order_by(Campaign.id)).all()
    year = campaigns[0].code.split("-")[1]
    assert [c.code for c in campaigns] == [f"MKT-{year}-00001", f"MKT-{year}-00002"]
    assert service.assert_launchable(db, campaigns[0].id).id == campaigns[0].id
    # Approving again returns the same draft.
    assert service.create_draft_from_plan(db, plan=plans[0], actor=principal(db, bank.users["approver"]).actor).id \
        == campaigns[0].id

    # A campaign whose plan version is not the approved one cannot launch.
    campaigns[1].plan_version = 99
    db.commit()
    with pytest.raises(OmniloopError) as info:
        service.assert_launchable(db, campaigns[1].id)
    assert (info.value.code, info.value.status) == ("plan_not_approved", 409)
    draft_plan = create_plan(db, bank.users["operator"], title="未审批")
    with pytest.raises(OmniloopError) as info:
        service.create_draft_from_plan(db, plan=draft_plan, actor=principal(db, bank.users["operator"]).actor)
    assert info.value.code == "plan_not_approved"


def test_list_edit_audit_and_scope(client, db):
    bank = create_bank(db)
    create_user(db, org=bank.branch_b, role=Role.branch_manager, username="manager_b")
    db.commit()
    branch_then_head_office(db)
    plan = create_plan(db, bank.users["operator"], owner_org=bank.branch_a, title="手机银行绑卡激励")
    _approve(db, bank, plan)
    op = login_headers(client, "operator")
    listed = client.get("/api/campaigns", headers=op).json()
    assert listed["total"] == 1
    campaign = listed["items"][0]
    assert (campaign["name"], campaign["plan_title"], campaign["status"]) == ("手机银行绑卡激励", "手机银行绑卡激励", "draft")
    assert campaign["start_date"] == "2026-12-01" and campaign["owner_org_name"] == "杭州分行"
    cid = campaign["id"]
    patched = client.patch(f"/api/campaigns/{cid}", json={"name": "手机银行绑卡激励（12月）", "end_date": "2026-12-20"},
                           headers=op)
    assert patched.status_code == 200 and patched.json()["name"] == "手机银行绑卡激励（12月）"
    bad = client.patch(f"/api/campaigns/{cid}", json={"end_date": "2026-11-01"}, headers=op)
    assert bad.status_code == 422
    audit = db.scalars(select(AuditRecord).where(AuditRecord.entity_type == "campaign")
                       .order_by(AuditRecord.id)).all()
    assert [a.action for a in audit] == ["campaign.create", "campaign.update"]
    assert audit[1].before == {"name": "手机银行绑卡激励", "end_date": "2026-12-31"}
    manager_b = login_headers(client, "manager_b")
    assert client.get(f"/api/campaigns/{cid}", headers=manager_b).status_code == 404
    assert client.get("/api/campaigns", headers=manager_b).json()["total"] == 0
    assert client.patch(f"/api/campaigns/{cid}", json={"name": "x"}, headers=login_headers(client, "manager_a")
                        ).status_code == 403
    assert client.get("/api/campaigns", params={"q": "MKT-"}, headers=op).json()["total"] == 1
