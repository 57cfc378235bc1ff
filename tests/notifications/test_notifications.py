"""Notification centre: countersign events notify the right people; each user sees and marks only their own."""

from __future__ import annotations

from tests.factories import create_bank, login_headers
from tests.plans.factories import branch_then_head_office


def test_next_approvers_are_notified_and_mark_read(client, db):
    bank = create_bank(db)
    branch_then_head_office(db)
    op, manager = login_headers(client, "operator"), login_headers(client, "manager_a")
    pid = client.post("/api/plans", json={"title": "信用卡分期促动", "owner_org_id": bank.branch_a.id},
                      headers=op).json()["id"]
    client.post(f"/api/plans/{pid}/submit", json={}, headers=op)

    assert client.get("/api/notifications/unread-count", headers=manager).json() == {"unread": 1}
    page = client.get("/api/notifications", headers=manager).json()
    note = page["items"][0]
    assert note["kind"] == "approval.pending" and "信用卡分期促动" in note["title_zh"]
    assert note["title_en"].startswith("Approval needed") and note["link"] == f"/approvals?plan={pid}"
    assert client.get("/api/notifications/unread-count", headers=login_headers(client, "approver")).json()["unread"] == 0

    # Someone else's notification does not exist for you.
    assert client.post(f"/api/notifications/{note['id']}/read", headers=op).status_code == 404
    read = client.post(f"/api/notifications/{note['id']}/read", headers=manager)
    assert read.status_code == 200 and read.json()["read_at"]
    assert client.get("/api/notifications/unread-count", headers=manager).json()["unread"] == 0

    step = client.get("/api/approvals/inbox", headers=manager).json()["items"][0]
    client.post(f"/api/approvals/steps/{step['step_id']}/decision", json={"action": "reject", "comment": "请补充预算"},
                headers=manager)
    ops_notes = client.get("/api/notifications", params={"unread_only": True}, headers=op).json()
    assert ops_notes["unread"] == 1 and ops_notes["items"][0]["kind"] == "plan.rejected"
    assert ops_notes["items"][0]["body_zh"] == "请补充预算"
    assert client.post("/api/notifications/read-all", headers=op).json() == {"marked": 1}
    assert client.get("/api/notifications", params={"unread_only": True}, headers=op).json()["total"] == 0
    assert client.get("/api/notifications").status_code == 401
