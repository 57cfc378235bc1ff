"""Plans API (C1): CRUD, scope, versions compare, raising from an alert, uploads, archive search."""

from __future__ import annotations

from sqlalchemy import func, select

from omniloop.core.audit import AuditRecord
from omniloop.org.roles import Role
from omniloop.plans.models import PlanDocument
from tests.factories import create_bank, create_user, login_headers
from tests.plans.factories import branch_then_head_office
from tests.plans.files import docx_bytes, encrypted_pdf_bytes, pdf_bytes, xlsx_bytes

PLAN = {"title": "理财到期客户挽留", "objective": "到期资金留存率提升10%", "lifecycle_stage": "churn_risk",
        "business_line": "wealth", "channels": ["sms", "rm_task", "sms"], "budget_fen": 30_000_000,
        "start_date": "2026-12-01", "end_date": "2026-12-31", "audience_description": "30天内理财到期客户"}


def test_create_read_update_list_and_delete(client, db):
    bank = create_bank(db)
    op = login_headers(client, "operator")
    created = client.post("/api/plans", json={**PLAN, "owner_org_id": bank.branch_a.id}, headers=op)
    assert created.status_code == 201, created.text
    plan = created.json()
    assert plan["channels"] == ["sms", "rm_task"] and plan["status"] == "draft" and plan["version"] == 1
    assert plan["owner_org_name"] == "杭州分行" and plan["owner_name"]

    patched = client.patch(f"/api/plans/{plan['id']}", json={"budget_fen": 25_000_000}, headers=op)
    assert patched.status_code == 200 and patched.json()["version"] == 1  # drafting refines version 1
    bad = client.patch(f"/api/plans/{plan['id']}", json={"end_date": "2026-11-01"}, headers=op)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"
    bad = client.post("/api/plans", json={**PLAN, "budget_fen": -1}, headers=op)
    assert bad.status_code == 422

    for i in range(3):
        client.post("/api/plans", json={**PLAN, "title": f"沉睡客户唤醒{i}", "lifecycle_stage": "dormant"}, headers=op)
    page = client.get("/api/plans", params={"page_size": 2, "lifecycle_stage": "dormant"}, headers=op).json()
    assert page["total"] == 3 and len(page["items"]) == 2
    found = client.get("/api/plans", params={"q": "挽留"}, headers=op).json()
    assert [p["id"] for p in found["items"]] == [plan["id"]]

    assert client.delete(f"/api/plans/{plan['id']}", headers=op).status_code == 204
    assert client.get(f"/api/plans/{plan['id']}", headers=op).status_code == 404
    actions = db.scalars(select(AuditRecord.action).where(AuditRecord.entity_type == "plan",
                                                          AuditRecord.entity_id == str(plan["id"]))
                         .order_by(AuditRecord.id)).all()
    assert actions == ["plan.create", "plan.update", "plan.delete"]


def test_scope_and_permissions(client, db):
    bank = create_bank(db)
    create_user(db, org=bank.branch_b, role=Role.branch_manager, username="manager_b")
    db.commit()
    op = login_headers(client, "operator")
    plan_a = client.post("/api/plans", json={**PLAN, "owner_org_id": bank.branch_a.id}, headers=op).json()
    plan_b = client.post("/api/plans", json={**PLAN, "owner_org_id": bank.sub_b.id}, headers=op).json()

    manager_b = login_headers(client, "manager_b")
    listed = client.get("/api/plans", headers=manager_b).json()
    assert [p["id"] for p in listed["items"]] == [plan_b["id"]]
    hidden = client.get(f"/api/plans/{plan_a['id']}", headers=manager_b)
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "plan_not_found"
    assert client.get(f"/api/plans/{plan_a['id']}/versions", headers=manager_b).status_code == 404
    # Read-only roles cannot write; an RM cannot even read plans.
    assert client.patch(f"/api/plans/{plan_b['id']}", json={"title": "x"}, headers=manager_b).status_code == 403
    rm = login_headers(client, "rm_a")
    assert client.get("/api/plans", headers=rm).status_code == 403
    assert client.post("/api/plans", json=PLAN, headers=rm).status_code == 403
    assert client.get("/api/plans", headers=login_headers(client, "approver")).json()["total"] == 2
    unknown = client.post("/api/plans", json={**PLAN, "audience_id": 999_999}, headers=op)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "audience_not_found"
    anonymous = client.get("/api/plans")
    assert anonymous.status_code == 401


def test_versions_are_compared_field_by_field(client, db):
    bank = create_bank(db)
    branch_then_head_office(db)
    op, manager = login_headers(client, "operator"), login_headers(client, "manager_a")
    plan = client.post("/api/plans", json={**PLAN, "owner_org_id": bank.branch_a.id}, headers=op).json()
    pid = plan["id"]
    assert client.post(f"/api/plans/{pid}/submit", json={}, headers=op).status_code == 200
    locked = client.patch(f"/api/plans/{pid}", json={"title": "改名"}, headers=op)
    assert locked.status_code == 409 and locked.json()["error"]["code"] == "plan_locked"
    step = client.get("/api/approvals/inbox", headers=manager).json()["items"][0]
    client.post(f"/api/approvals/steps/{step['step_id']}/decision",
                json={"action": "reject", "comment": "渠道需增加手机银行"}, headers=manager)
    revised = client.patch(f"/api/plans/{pid}", json={"channels": ["sms", "app_push"], "note": "增加手机银行"},
                           headers=op).json()
    assert revised["version"] == 2
    versions = client.get(f"/api/plans/{pid}/versions", headers=op).json()
    assert [(v["version"], v["frozen"], v["note"]) for v in versions] == [(2, False, "增加手机银行"), (1, True, "创建")]
    comparison = client.get(f"/api/plans/{pid}/versions/compare", params={"from_version": 1, "to_version": 2},
                            headers=op).json()
    changed = {f["field"]: (f["before"], f["after"]) for f in comparison["fields"] if f["changed"]}
    assert changed == {"channels": (["sms", "rm_task"], ["sms", "app_push"])}
    assert comparison["changed"] == 1 and len(comparison["fields"]) > 10
    missing = client.get(f"/api/plans/{pid}/versions/compare", params={"from_version": 1, "to_version": 9},
                         headers=op)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "plan_version_not_found"


def test_raise_a_need_from_an_insight_alert(client, db):
    create_bank(db)
    op = login_headers(client, "operator")
    body = {"source_type": "insight_alert", "source_ref": "alert:churn:2026-11-20:ZJ0100",
            "title": "杭州分行流失预警客户挽留", "summary": "近一月AUM下降超过30%的客户增加1,200户",
            "lifecycle_stage": "churn_risk"}
    created = client.post("/api/plans/from-alert", json=body, headers=op)
    assert created.status_code == 201
    plan = created.json()
    assert (plan["source_type"], plan["source_ref"]) == ("insight_alert", "alert:churn:2026-11-20:ZJ0100")
    assert plan["objective"] == body["summary"] and plan["status"] == "draft"
    bad = client.post("/api/plans/from-alert", json={**body, "source_type": "Bad Type"}, headers=op)
    assert bad.status_code == 422


def test_upload_stores_original_and_text_and_proposes_fields(client, db, settings):
    create_bank(db)
    op = login_headers(client, "operator")
    pid = client.post("/api/plans", json={"title": "新客首刷", "budget_fen": 50_000_000}, headers=op).json()["id"]
    data = docx_bytes()
    response = client.post(f"/api/plans/{pid}/documents", files={"file": ("方案.docx", data)}, headers=op)
    assert response.status_code == 201, response.text
    body = response.json()
    document = body["document"]
    assert document["file_type"] == "docx" and document["size_bytes"] == len(data)
    assert (settings.home / "documents" / f"{document['sha256']}.docx").read_bytes() == data
    proposals = {s["field"]: s for s in body["suggestions"]}
    assert proposals["budget_fen"]["value"] == 50_000_000 and proposals["budget_fen"]["differs"] is False
    assert proposals["start_date"]["value"] == "2026-12-01" and proposals["start_date"]["current"] is None
    assert proposals["channels"]["value"][:2] == ["sms", "app_push"]
    # Proposals are not applied.
    assert client.get(f"/api/plans/{pid}", headers=op).json()["start_date"] is None
    text = client.get(f"/api/plans/documents/{document['id']}", headers=op).json()
    assert "首刷满88元送20元立减金" in text["text"] and len(text["suggestions"]) == len(body["suggestions"])
    download = client.get(f"/api/plans/documents/{document['id']}/download", headers=op)
    assert download.status_code == 200 and download.content == data
    listed = client.get(f"/api/plans/{pid}/documents", headers=op).json()
    assert [d["id"] for d in listed] == [document["id"]]

    xlsx = client.post(f"/api/plans/{pid}/documents",
                       files={"file": ("测算.xlsx", xlsx_bytes([["预算", "20万元"]]))}, headers=op)
    assert xlsx.status_code == 201 and xlsx.json()["suggestions"][0]["value"] == 20_000_000
    pdf = client.post(f"/api/plans/{pid}/documents", files={"file": ("p.pdf", pdf_bytes(["Budget 100"]))}, headers=op)
    assert pdf.status_code == 201 and "Budget 100" in pdf.json()["document"]["text_preview"]
    odd = client.post(f"/api/plans/{pid}/documents", files={"file": ("a\x00b\n.txt", "说明".encode())}, headers=op)
    assert odd.status_code == 201 and "\x00" not in odd.json()["document"]["filename"]


def test_bad_uploads_store_nothing(client, db, settings):
    create_bank(db)
    op = login_headers(client, "operator")
    pid = client.post("/api/plans", json={"title": "新客首刷"}, headers=op).json()["id"]
    settings.plan_doc_max_mb = 1
    cases = [
        (("p.pdf", encrypted_pdf_bytes(["secret"])), "document_encrypted"),
        (("p.docx", b"PK\x03\x04broken"), "document_corrupt"),
        (("p.xlsx", b"not excel"), "document_corrupt"),
        (("p.exe", b"MZ"), "document_type_unsupported"),
        (("big.txt", b"a" * (2**20 + 1)), "document_too_large"),
    ]
    for file, code in cases:
        response = client.post(f"/api/plans/{pid}/documents", files={"file": file}, headers=op)
        assert response.status_code == 422 and response.json()["error"]["code"] == code, (file[0], response.text)
        assert response.json()["error"]["message_zh"] and response.json()["error"]["message_en"]
    assert db.scalar(select(func.count()).select_from(PlanDocument)) == 0
    assert not (settings.home / "documents").exists() or not any((settings.home / "documents").iterdir())


def _approve(client, db, bank, title: str, **fields) -> int:
    op, manager, approver = (login_headers(client, u) for u in ("operator", "manager_a", "approver"))
    pid = client.post("/api/plans", json={**PLAN, "title": title, "owner_org_id": bank.branch_a.id, **fields},
                      headers=op).json()["id"]
    assert client.post(f"/api/plans/{pid}/submit", json={}, headers=op).status_code == 200
    for headers in (manager, approver):
        step = client.get("/api/approvals/inbox", headers=headers).json()["items"][0]
        decided = client.post(f"/api/approvals/steps/{step['step_id']}/decision", json={"action": "approve"},
                              headers=headers)
        assert decided.status_code == 200, decided.text
    return pid


def test_archive_search_ranks_approved_plans_with_highlights(client, db):
    bank = create_bank(db)
    branch_then_head_office(db)
    op = login_headers(client, "operator")
    card = _approve(client, db, bank, "信用卡新客首刷有礼", objective="提升信用卡新客首刷率，首刷送立减金",
                    audience_description="新开信用卡客户")
    wealth = _approve(client, db, bank, "理财到期挽留", objective="理财到期资金留存",
                      audience_description="理财到期客户，含部分信用卡持卡人")
    draft = client.post("/api/plans", json={**PLAN, "title": "信用卡首刷草稿"}, headers=op).json()["id"]
    result = client.get("/api/plans/search", params={"q": "信用卡首刷"}, headers=op).json()
    ids = [h["plan"]["id"] for h in result["items"]]
    assert ids[0] == card and wealth in ids and draft not in ids  # drafts are not archived
    assert "信用卡" in result["terms"] and "首刷" in result["terms"]
    top = result["items"][0]
    assert set(top["terms"]) >= {"信用卡", "首刷"} and any("首刷" in h for h in top["highlights"])
    assert result["items"][0]["score"] >= result["items"][-1]["score"]
    none = client.get("/api/plans/search", params={"q": "跨境汇款"}, headers=op).json()
    assert none["total"] == 0
    # Search respects scope: a branch-B manager sees none of branch A's archive.
    create_user(db, org=bank.branch_b, role=Role.branch_manager, username="manager_b")
    db.commit()
    other = client.get("/api/plans/search", params={"q": "信用卡"}, headers=login_headers(client, "manager_b"))
    assert other.json()["total"] == 0


def test_search_indexes_document_text(client, db):
    bank = create_bank(db)
    branch_then_head_office(db)
    op = login_headers(client, "operator")
    pid = client.post("/api/plans", json={**PLAN, "title": "季度营销", "owner_org_id": bank.branch_a.id},
                      headers=op).json()["id"]
    client.post(f"/api/plans/{pid}/documents",
                files={"file": ("a.txt", "附件说明：本次活动联合商户开展绿色出行满减。".encode())}, headers=op)
    manager, approver = login_headers(client, "manager_a"), login_headers(client, "approver")
    client.post(f"/api/plans/{pid}/submit", json={}, headers=op)
    for headers in (manager, approver):
        step = client.get("/api/approvals/inbox", headers=headers).json()["items"][0]
        client.post(f"/api/approvals/steps/{step['step_id']}/decision", json={"action": "approve"}, headers=headers)
    result = client.get("/api/plans/search", params={"q": "绿色出行"}, headers=op).json()
    assert [h["plan"]["id"] for h in result["items"]] == [pid]
    assert any("绿色出行" in h for h in result["items"][0]["highlights"])
