"""Countersign API (C3): who may decide, inbox, timeline, comments with attachments, templates, delegations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from omniloop.org.roles import Role
from tests.factories import create_bank, create_user, login_headers
from tests.plans.factories import branch_then_head_office

PLAN = {"title": "代发工资客户激活", "objective": "代发客户手机银行月活提升", "budget_fen": 8_000_000,
        "channels": ["app_push"], "start_date": "2026-12-01", "end_date": "2026-12-31"}


def _submitted(client, db, bank, org=None):
    branch_then_head_office(db)
    op = login_headers(client, "operator")
    pid = client.post("/api/plans", json={**PLAN, "owner_org_id": (org or bank.branch_a).id}, headers=op).json()["id"]
    response = client.post(f"/api/plans/{pid}/submit", json={"comment": "请审批"}, headers=op)
    assert response.status_code == 200, response.text
    return pid, op, response.json()


def test_rm_cannot_approve_and_other_branches_cannot_see(client, db):
    bank = create_bank(db)
    create_user(db, org=bank.branch_b, role=Role.branch_manager, username="manager_b")
    db.commit()
    pid, op, timeline = _submitted(client, db, bank)
    step_id = timeline["instances"][0]["steps"][0]["id"]
    rm = client.post(f"/api/approvals/steps/{step_id}/decision", json={"action": "approve"},
                     headers=login_headers(client, "rm_a"))
    assert rm.status_code == 403 and rm.json()["error"]["code"] == "forbidden"
    manager_b = login_headers(client, "manager_b")
    other = client.post(f"/api/approvals/steps/{step_id}/decision", json={"action": "approve"}, headers=manager_b)
    assert other.status_code == 404 and other.json()["error"]["code"] == "approval_step_not_found"
    assert client.get(f"/api/plans/{pid}/approvals", headers=manager_b).status_code == 404
    assert client.get("/api/approvals/inbox", headers=manager_b).json()["total"] == 0
    # The head-office approver sees the plan but is not on step 1.
    approver = login_headers(client, "approver")
    early = client.post(f"/api/approvals/steps/{step_id}/decision", json={"action": "approve"}, headers=approver)
    assert early.status_code == 403 and early.json()["error"]["code"] == "not_an_approver"
    # The operator who wrote the plan has no approvals.decide at all.
    assert client.get("/api/approvals/inbox", headers=op).status_code == 403


def test_inbox_decide_timeline_and_illegal_transitions(client, db):
    bank = create_bank(db)
    pid, op, timeline = _submitted(client, db, bank)
    manager = login_headers(client, "manager_a")
    inbox = client.get("/api/approvals/inbox", headers=manager).json()
    assert inbox["total"] == 1
    item = inbox["items"][0]
    assert (item["plan_id"], item["position"], item["steps_total"], item["on_behalf_of"]) == (pid, 1, 2, None)
    no_reason = client.post(f"/api/approvals/steps/{item['step_id']}/decision", json={"action": "reject"},
                            headers=manager)
    assert no_reason.status_code == 422
    ok = client.post(f"/api/approvals/steps/{item['step_id']}/decision",
                     json={"action": "approve", "comment": "同意，注意控制成本"}, headers={**manager, "Accept-Language": "en"})
    assert ok.status_code == 200
    again = client.post(f"/api/approvals/steps/{item['step_id']}/decision", json={"action": "approve"},
                        headers={**manager, "Accept-Language": "en"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "step_not_open"
    assert again.json()["error"]["message"] == "This step is not open for decisions"
    assert client.get("/api/approvals/inbox", headers=manager).json()["total"] == 0
    resubmit = client.post(f"/api/plans/{pid}/submit", json={}, headers=op)
    assert resubmit.status_code == 409 and resubmit.json()["error"]["code"] == "plan_not_submittable"

    approver = login_headers(client, "approver")
    step2 = client.get("/api/approvals/inbox", headers=approver).json()["items"][0]
    assert step2["position"] == 2
    attachment = client.post(f"/api/approvals/steps/{step2['step_id']}/attachments",
                             files={"file": ("意见.txt", "风险提示：注意客户打扰频次".encode())}, headers=approver)
    assert attachment.status_code == 201, attachment.text
    comment = client.post(f"/api/plans/{pid}/comments", json={"comment": "请补充测算依据", "step_id": step2["step_id"],
                                                             "attachment_ids": [attachment.json()["id"]]},
                          headers=approver)
    assert comment.status_code == 201 and comment.json()["attachments"][0]["filename"] == "意见.txt"
    rm_comment = client.post(f"/api/plans/{pid}/comments", json={"comment": "x"}, headers=login_headers(client, "rm_a"))
    assert rm_comment.status_code == 403
    final = client.post(f"/api/approvals/steps/{step2['step_id']}/decision", json={"action": "approve"},
                        headers=approver).json()
    assert final["plan_status"] == "approved"
    events = [(e["action"], e["actor"]["username"] if e["actor"] else None) for e in final["instances"][0]["events"]]
    assert events == [("submit", "operator"), ("step_opened", None), ("approve", "manager_a"), ("step_opened", None),
                      ("comment", "approver"), ("approve", "approver"), ("approved", None),
                      ("campaign_created", None)]
    steps = final["instances"][0]["steps"]
    assert [s["assignees"][0]["user"]["username"] for s in steps] == ["manager_a", "approver"]
    assert steps[0]["assignees"][0]["org_name"] == "杭州分行"
    assert [(s["status"], s["assignees"][0]["decision"], s["assignees"][0]["decided_by"]["username"])
            for s in steps] == [("approved", "approve", "manager_a"), ("approved", "approve", "approver")]
    withdraw = client.post(f"/api/plans/{pid}/withdraw", json={}, headers=op)
    assert withdraw.status_code == 409 and withdraw.json()["error"]["code"] == "plan_not_in_review"
    plan = client.get(f"/api/plans/{pid}", headers=op).json()
    assert plan["campaign_code"].startswith("MKT-") and plan["approved_version"] == 1


def test_templates_are_admin_only_and_validated(client, db):
    create_bank(db)
    admin, op = login_headers(client, "admin"), login_headers(client, "operator")
    body = {"name": "总行双人会签", "is_default": True, "steps": [
        {"name": "风险合规", "mode": "n_of_m", "required": 2,
         "approvers": [{"role": "approver", "org": "head_office"}]}]}
    assert client.post("/api/approvals/templates", json=body, headers=op).status_code == 403
    created = client.post("/api/approvals/templates", json=body, headers=admin)
    assert created.status_code == 201 and created.json()["steps"][0]["required"] == 2
    dup = client.post("/api/approvals/templates", json=body, headers=admin)
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "template_name_taken"
    bad = client.post("/api/approvals/templates", json={**body, "name": "x", "steps": [
        {"name": "s", "mode": "n_of_m", "approvers": [{"role": "approver", "org": "head_office"}]}]}, headers=admin)
    assert bad.status_code == 422
    second = client.post("/api/approvals/templates", json={**body, "name": "分行审批"}, headers=admin).json()
    templates = client.get("/api/approvals/templates", headers=op).json()
    assert [(t["name"], t["is_default"]) for t in templates] == [("分行审批", True), ("总行双人会签", False)]
    off = client.patch(f"/api/approvals/templates/{second['id']}", json={"active": False}, headers=admin)
    assert off.status_code == 422 and off.json()["error"]["code"] == "default_template_inactive"
    # Only one approver exists at head office: the 2-of-M step cannot be staffed.
    pid = client.post("/api/plans", json=PLAN, headers=op).json()["id"]
    short = client.post(f"/api/plans/{pid}/submit", json={"template_id": created.json()["id"]}, headers=op)
    assert short.status_code == 422 and short.json()["error"]["code"] == "no_eligible_approvers"


def test_delegation_through_the_api(client, db):
    bank = create_bank(db)
    create_user(db, org=bank.branch_a, role=Role.branch_manager, username="deputy_a")
    db.commit()
    pid, op, timeline = _submitted(client, db, bank)
    step_id = timeline["instances"][0]["steps"][0]["id"]
    manager, deputy = login_headers(client, "manager_a"), login_headers(client, "deputy_a")
    # deputy_a, also a branch manager of branch A, decides step 1; step 2 is decided by a delegate.
    now = datetime.now(UTC)
    approver = login_headers(client, "approver")
    created = client.post("/api/approvals/delegations", json={
        "delegate_id": bank.users["manager_a"].id, "starts_at": (now - timedelta(hours=1)).isoformat(), "ends_at": (now + timedelta(days=2)).isoformat(),
        "reason": "年假"}, headers=approver)
    assert created.status_code == 201, created.text
    assert created.json()["active"] is True and created.json()["delegate"]["username"] == "manager_a"
    bad = client.post("/api/approvals/delegations", json={"delegate_id": 1, "starts_at": now.isoformat(),
                                                          "ends_at": (now - timedelta(days=1)).isoformat()},
                      headers=approver)
    assert bad.status_code == 422
    client.post(f"/api/approvals/steps/{step_id}/decision", json={"action": "approve"}, headers=deputy)
    inbox = client.get("/api/approvals/inbox", headers=manager).json()
    assert [(i["position"], i["on_behalf_of"]["username"]) for i in inbox["items"]] == [(2, "approver")]
    decided = client.post(f"/api/approvals/steps/{inbox['items'][0]['step_id']}/decision",
                          json={"action": "approve", "on_behalf_of_id": inbox["items"][0]["on_behalf_of"]["id"]},
                          headers=manager).json()
    event = [e for e in decided["instances"][0]["events"] if e["action"] == "approve"][-1]
    assert (event["actor"]["username"], event["on_behalf_of"]["username"]) == ("manager_a", "approver")
    assert decided["plan_status"] == "approved"
    mine = client.get("/api/approvals/delegations", headers=approver).json()
    revoked = client.post(f"/api/approvals/delegations/{mine[0]['id']}/revoke", headers=approver).json()
    assert revoked["active"] is False and revoked["revoked_at"]
    assert client.post(f"/api/approvals/delegations/{mine[0]['id']}/revoke", headers=manager).status_code == 404
