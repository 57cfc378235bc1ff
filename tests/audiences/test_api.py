"""The audiences API (A3): live estimates against DuckDB, scopes, validation, saved audiences and snapshots."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from omniloop.audiences.models import Audience, AudienceSnapshot
from omniloop.core.audit import SYSTEM, AuditRecord
from omniloop.customers import lists as customer_lists
from omniloop.customers.models import Customer
from tests.audiences.bank_data import bank_with_tags, duckdb_cids, publish_tags, subtree_org_ids
from tests.factories import create_bank, login_headers

VIP = {"op": "tag", "tag": "vip", "values": ["gold", "silver"]}
RICH = {"op": "range", "feature": "aum", "min": "50000"}
CARD = {"op": "feature", "feature": "has_credit_card", "in": [True]}
GROWING = {"op": "feature", "feature": "lifecycle_stage", "in": ["grow", "retain"]}


@pytest.fixture
def bank(db, settings):
    return bank_with_tags(db, settings.home)


@pytest.fixture
def list_ids(db, bank):
    """A head-office list (a third of the customers), a branch-A and a branch-B list."""
    ids = sorted(c.id for c in bank.customers)
    head = customer_lists.create_list(db, actor=SYSTEM, name="总行名单", org_id=bank.head.id, cids=ids[::3])
    branch_a = customer_lists.create_list(db, actor=SYSTEM, name="杭州名单", org_id=bank.branch_a.id, cids=ids[::5])
    branch_b = customer_lists.create_list(db, actor=SYSTEM, name="宁波名单", org_id=bank.branch_b.id, cids=ids[1::4])
    db.commit()
    return {"head": head.id, "branch_a": branch_a.id, "branch_b": branch_b.id,
            "members": {head.id: ids[::3], branch_a.id: ids[::5], branch_b.id: ids[1::4]}}


def _estimate(client, headers, expression, **extra):
    return client.post("/api/audiences/estimate", json={"expression": expression, **extra}, headers=headers)


def _ok(response):
    assert response.status_code < 300, response.text
    return response.json()


def test_estimate_equals_duckdb_for_several_expressions(client, bank, settings, list_ids):
    headers = login_headers(client, "operator")
    head_list = list_ids["head"]
    expressions = [
        VIP,
        {"op": "and", "children": [VIP, RICH, CARD]},
        {"op": "or", "children": [{"op": "tag", "tag": "churn_risk", "values": [True]}, GROWING]},
        {"op": "not", "child": VIP},
        {"op": "minus", "base": RICH, "subtract": [CARD, {"op": "tag", "tag": "tier", "values": ["t0", "t1"]}]},
        {"op": "and", "children": [{"op": "list", "list_id": head_list},
                                   {"op": "not", "child": {"op": "feature", "feature": "risk_level", "in": ["R5"]}}]},
        {"op": "range", "feature": "age", "min": 30, "max": 55},
        {"op": "and", "children": [{"op": "range", "feature": "first_account_date", "min": "2015-01-01"},
                                   {"op": "range", "feature": "aum", "max": "100000.50"}]},
    ]
    totals = set()
    for expression in expressions:
        body = _ok(_estimate(client, headers, expression))
        expected = duckdb_cids(settings.home, expression, lists=list_ids["members"])
        assert body["total"] == len(expected), expression
        assert body["universe"] == len(bank.customers)
        assert body["tagset_version"] == bank.tagset
        branch_sum = sum(item["count"] for item in body["breakdown"]["branch"])
        stage_sum = sum(item["count"] for item in body["breakdown"]["lifecycle_stage"])
        assert branch_sum == stage_sum == body["total"]
        totals.add(body["total"])
    assert len(totals) > 4  # the expressions really select different audiences


def test_breakdown_counts_and_labels(client, bank, settings, db):
    headers = login_headers(client, "operator")
    body = _ok(_estimate(client, headers, RICH))
    expected = duckdb_cids(settings.home, RICH)
    rows = db.execute(select(Customer.id, Customer.org_id, Customer.lifecycle_stage)).all()
    by_stage: dict = {}
    for cid, _, stage in rows:
        if cid in expected:
            by_stage[stage] = by_stage.get(stage, 0) + 1
    got = {item["value"]: item["count"] for item in body["breakdown"]["lifecycle_stage"]}
    assert got == by_stage
    labels = {item["value"]: item["label_zh"] for item in body["breakdown"]["lifecycle_stage"]}
    assert labels.get("grow") == "成长期"
    branches = {item["value"]: item["label_zh"] for item in body["breakdown"]["branch"]}
    assert branches.get(bank.branch_a.id) == "杭州分行"
    assert branches.get(None) == "总行直属"  # customers booked at the head office itself


def test_per_node_counts_are_each_conditions_own_count(client, bank, settings):
    headers = login_headers(client, "operator")
    expression = {"op": "and", "id": "root", "children": [
        {**VIP, "id": "vip"}, {**RICH, "id": "rich"},
        {"op": "not", "id": "no-card", "child": {**CARD, "id": "card"}}]}
    body = _ok(_estimate(client, headers, expression))
    nodes = {n["id"]: n for n in body["nodes"]}
    assert set(nodes) == {"root", "vip", "rich", "no-card", "card"}
    assert nodes["vip"]["path"] == "children.0" and nodes["card"]["path"] == "children.2.child"
    for key, sub in (("vip", VIP), ("rich", RICH), ("card", CARD), ("no-card", {"op": "not", "child": CARD})):
        assert nodes[key]["count"] == len(duckdb_cids(settings.home, sub)), key
    assert nodes["root"]["count"] == body["total"]
    assert nodes["card"]["count"] + nodes["no-card"]["count"] == body["universe"]


def test_branch_manager_sees_only_their_subtree(client, bank, settings, db):
    operator = _ok(_estimate(client, login_headers(client, "operator"), RICH))
    manager = _ok(_estimate(client, login_headers(client, "manager_a"), RICH))
    subtree = subtree_org_ids(db, bank.branch_a)
    expected = duckdb_cids(settings.home, RICH, scope_org_ids=subtree)
    assert manager["total"] == len(expected)
    assert manager["total"] < operator["total"]
    in_subtree = db.scalars(select(Customer.id).where(Customer.org_id.in_(subtree))).all()
    assert manager["universe"] == len(in_subtree)
    assert {item["value"] for item in manager["breakdown"]["branch"]} == {bank.branch_a.id}
    for node in manager["nodes"]:
        assert node["count"] <= manager["universe"]
    # NOT is relative to the manager's universe, never to the whole bank.
    negated = _ok(_estimate(client, login_headers(client, "manager_a"), {"op": "not", "child": RICH}))
    assert negated["total"] == manager["universe"] - manager["total"]


def test_rm_scope_is_their_assigned_customers(db, bank, settings, app):
    from omniloop.audiences import service
    from omniloop.audiences.engine import app_engine
    from omniloop.org.auth import Principal

    rm = bank.users["rm_a"]
    principal = Principal(user=rm, org=bank.sub_a, token_hash="")
    result = service.estimate(session=db, principal=principal, engine=app_engine(app), expression=VIP)
    mine = set(db.scalars(select(Customer.id).where(Customer.rm_id == rm.id)))
    assert 0 < result.universe == len(mine)
    assert result.total == len(duckdb_cids(settings.home, VIP, only_cids=mine))


def test_rm_and_approver_may_not_estimate_and_analyst_may_not_save(client, bank):
    for user in ("rm_a", "approver"):
        assert _estimate(client, login_headers(client, user), VIP).status_code == 403
    analyst = login_headers(client, "analyst")
    assert _estimate(client, analyst, VIP).status_code == 200
    response = client.post("/api/audiences", json={"name": "x", "expression": VIP}, headers=analyst)
    assert response.status_code == 403
    assert client.post("/api/audiences/estimate", json={"expression": VIP}).status_code == 401


def test_new_tag_set_is_used_without_restart(client, bank, settings, db):
    headers = login_headers(client, "operator")
    first = _ok(_estimate(client, headers, VIP))
    assert first["total"] == len(duckdb_cids(settings.home, VIP))
    version = publish_tags(db, settings.home, seed=99, rebuild=False)
    assert version == bank.tagset + 1
    second = _ok(_estimate(client, headers, VIP))
    assert second["tagset_version"] == version
    assert second["total"] == len(duckdb_cids(settings.home, VIP))
    assert second["total"] != first["total"]  # seed 99 draws other tag values


def _problems(response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_audience"
    return {p["path"]: p["code"] for p in error["details"]}


def test_validation_errors_carry_paths(client, bank, list_ids):
    headers = login_headers(client, "operator")
    problems = _problems(_estimate(client, headers, {"op": "and", "children": [
        {"op": "tag", "tag": "nope", "values": ["x"]},
        {"op": "tag", "tag": "churn_risk", "values": ["yes"]},
        {"op": "feature", "feature": "gender", "in": []},
        {"op": "range", "feature": "aum", "min": "100", "max": "10"},
        {"op": "list", "list_id": 999_999},
    ]}))
    assert problems == {"children.0.tag": "unknown_tag", "children.1.values.0": "wrong_value_type",
                        "children.2.in": "empty_values", "children.3": "inverted_range",
                        "children.4.list_id": "unknown_list"}
    # Lists of other branches and of the offices above are not visible to branch A's manager.
    manager = login_headers(client, "manager_a")
    for other in ("branch_b", "head"):
        problems = _problems(_estimate(client, manager, {"op": "list", "list_id": list_ids[other]}))
        assert problems == {"list_id": "unknown_list"}
    assert _estimate(client, manager, {"op": "list", "list_id": list_ids["branch_a"]}).status_code == 200
    problems = _problems(_estimate(client, headers, VIP, breakdown=["branch", "shoe_size"]))
    assert problems == {"breakdown.1": "unknown_dimension"}
    assert _problems(_estimate(client, headers, {"op": "xor"})) != {}
    # Ids no database can hold are simply unknown, never a driver error.
    problems = _problems(_estimate(client, headers, {"op": "or", "children": [
        {"op": "audience", "audience_id": 2**70}, {"op": "list", "list_id": 2**70}]}))
    assert problems == {"children.0.audience_id": "unknown_audience", "children.1.list_id": "unknown_list"}
    blank = client.post("/api/audiences", headers=headers, json={"name": "   ", "expression": VIP})
    assert blank.status_code == 422 and blank.json()["error"]["code"] == "invalid_name"


def test_cycle_between_saved_audiences_is_rejected(client, bank):
    headers = login_headers(client, "operator")
    a = _ok(client.post("/api/audiences", json={"name": "A", "expression": VIP}, headers=headers))
    b = _ok(client.post("/api/audiences", json={"name": "B", "expression": {"op": "and", "children": [
        {"op": "audience", "audience_id": a["id"]}, RICH]}}, headers=headers))
    response = client.patch(f"/api/audiences/{a['id']}", headers=headers,
                            json={"expression": {"op": "or", "children": [{"op": "audience", "audience_id": b["id"]}]}})
    assert _problems(response) == {"children.0.audience_id": "audience_cycle"}
    # Referencing B (which uses A) from a new audience is fine and counts the same as B.
    body = _ok(_estimate(client, headers, {"op": "audience", "audience_id": b["id"]}))
    assert body["total"] == _ok(_estimate(client, headers, {"op": "and", "children": [VIP, RICH]}))["total"]


def test_no_tag_set_yet_is_a_clear_409(client, db):
    create_bank(db)
    headers = login_headers(client, "operator")
    response = _estimate(client, headers, VIP)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_tagset"
    assert "标签" in response.json()["error"]["message_zh"]
    catalog = _ok(client.get("/api/audiences/catalog", headers=headers))
    assert catalog["tagset_version"] is None and catalog["tags"] == []
    assert any(f["name"] == "aum" for f in catalog["features"])


def test_catalog_lists_features_tags_lists_and_audiences(client, bank, list_ids):
    headers = login_headers(client, "operator")
    _ok(client.post("/api/audiences", json={"name": "高净值", "expression": RICH}, headers=headers))
    catalog = _ok(client.get("/api/audiences/catalog", headers=headers))
    assert catalog["tagset_version"] == bank.tagset
    features = {f["name"]: f for f in catalog["features"]}
    assert features["aum"]["condition"] == "range" and features["aum"]["unit_zh"] == "元"
    assert [v["value"] for v in features["risk_level"]["values"]] == ["R1", "R2", "R3", "R4", "R5"]
    assert features["gender"]["values"][0]["label_zh"] == "男"
    tags = {t["code"]: t for t in catalog["tags"]}
    assert tags["vip"]["name_zh"] == "VIP等级" and tags["churn_risk"]["kind"] == "boolean"
    assert [v["value"] for v in tags["vip"]["values"]] == ["gold", "silver", "bronze", "platinum"]
    assert {item["id"] for item in catalog["lists"]} == {list_ids["head"], list_ids["branch_a"], list_ids["branch_b"]}
    assert [a["name"] for a in catalog["audiences"]] == ["高净值"]
    assert "branch" in catalog["breakdowns"] and "tag:vip" in catalog["breakdowns"]
    manager = _ok(client.get("/api/audiences/catalog", headers=login_headers(client, "manager_a")))
    assert {item["id"] for item in manager["lists"]} == {list_ids["branch_a"]}


def test_saved_audience_crud_scope_and_audit(client, bank, db, settings):
    operator = login_headers(client, "operator")
    manager_a = login_headers(client, "manager_a")
    manager_b = login_headers(client, "manager_b")
    head = _ok(client.post("/api/audiences", headers=operator, json={
        "name": "  高净值持卡客户 ", "description": "AUM ≥ 5 万且持卡", "expression": {"op": "and", "children": [RICH, CARD]}}))
    assert head["name"] == "高净值持卡客户" and head["editable"] and head["org_id"] == bank.head.id
    assert head["last_total"] == len(duckdb_cids(settings.home, {"op": "and", "children": [RICH, CARD]}))
    dup = client.post("/api/audiences", headers=operator, json={"name": "高净值持卡客户", "expression": VIP})
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "audience_name_taken"
    own = _ok(client.post("/api/audiences", headers=manager_a, json={"name": "杭州VIP", "expression": VIP}))
    assert own["last_total"] == len(duckdb_cids(settings.home, VIP, scope_org_ids=subtree_org_ids(db, bank.branch_a)))

    # The head-office audience serves branch A (read-only); branch A's audience is invisible to branch B.
    listed = _ok(client.get("/api/audiences", headers=manager_a))
    assert {a["name"]: a["editable"] for a in listed["items"]} == {"高净值持卡客户": False, "杭州VIP": True}
    # The head office's size counts the whole bank: a branch sees it as unknown, not as a number.
    assert {a["name"]: a["last_total"] is None for a in listed["items"]} == {"高净值持卡客户": True, "杭州VIP": False}
    assert client.patch(f"/api/audiences/{head['id']}", headers=manager_a, json={"name": "x"}).status_code == 403
    assert client.get(f"/api/audiences/{own['id']}", headers=manager_b).status_code == 404
    assert _ok(client.get("/api/audiences", headers=operator))["total"] == 2
    assert [a["name"] for a in _ok(client.get("/api/audiences?q=VIP", headers=operator))["items"]] == ["杭州VIP"]
    page = _ok(client.get("/api/audiences?page=2&page_size=1", headers=operator))
    assert page["total"] == 2 and len(page["items"]) == 1

    updated = _ok(client.patch(f"/api/audiences/{own['id']}", headers=manager_a,
                               json={"expression": {"op": "and", "children": [VIP, CARD]}}))
    assert updated["last_total"] == len(duckdb_cids(settings.home, {"op": "and", "children": [VIP, CARD]},
                                                    scope_org_ids=subtree_org_ids(db, bank.branch_a)))
    assert updated["expression"]["children"][1] == CARD
    # The head office may edit branch A's audience; its size stays branch A's, not the whole bank's.
    renamed = _ok(client.patch(f"/api/audiences/{own['id']}", headers=operator, json={"description": "总行调整"}))
    assert renamed["last_total"] == updated["last_total"] and renamed["editable"]

    # Delete without snapshots removes; with a snapshot it archives.
    gone = _ok(client.delete(f"/api/audiences/{own['id']}", headers=manager_a))
    assert gone == {"id": own["id"], "deleted": True, "archived": False}
    _ok(client.post(f"/api/audiences/{head['id']}/snapshots", headers=operator, json={"purpose": "第1波"}))
    kept = _ok(client.delete(f"/api/audiences/{head['id']}", headers=operator))
    assert kept == {"id": head["id"], "deleted": False, "archived": True}
    assert _ok(client.get("/api/audiences", headers=operator))["total"] == 0
    assert _ok(client.get("/api/audiences?archived=true", headers=operator))["items"][0]["snapshot_count"] == 1
    restored = _ok(client.post(f"/api/audiences/{head['id']}/restore", headers=operator))
    assert restored["archived"] is False
    actions = set(db.scalars(select(AuditRecord.action).where(AuditRecord.entity_type.like("audience%"))))
    assert {"audience.create", "audience.update", "audience.delete", "audience.archive", "audience.snapshot",
            "audience.restore"} <= actions


def test_snapshot_is_immutable_across_tag_sets(client, bank, settings, db):
    headers = login_headers(client, "manager_a")
    audience = _ok(client.post("/api/audiences", headers=headers, json={"name": "杭州VIP", "expression": VIP}))
    subtree = subtree_org_ids(db, bank.branch_a)
    expected = duckdb_cids(settings.home, VIP, scope_org_ids=subtree)
    snap = _ok(client.post(f"/api/audiences/{audience['id']}/snapshots", headers=headers,
                           json={"purpose": "双十一 第2波"}))
    assert snap["size"] == len(expected) and snap["tagset_version"] == bank.tagset
    assert snap["purpose"] == "双十一 第2波" and snap["scope_org_id"] == bank.branch_a.id
    stored = db.get(AudienceSnapshot, snap["id"])
    from pyroaring import BitMap

    assert set(BitMap.deserialize(stored.members)) == expected
    assert stored.feature_version is not None

    publish_tags(db, settings.home, seed=42, rebuild=False)
    now = _ok(_estimate(client, headers, VIP))
    assert now["tagset_version"] == bank.tagset + 1 and now["total"] != snap["size"]
    detail = _ok(client.get(f"/api/audience-snapshots/{snap['id']}", headers=headers))
    assert detail["size"] == len(expected) and detail["tagset_version"] == bank.tagset
    assert sum(i["count"] for i in detail["breakdown"]["branch"]) == len(expected)
    assert "members" not in detail
    db.expire_all()
    assert set(BitMap.deserialize(db.get(AudienceSnapshot, snap["id"]).members)) == expected
    listed = _ok(client.get(f"/api/audiences/{audience['id']}/snapshots", headers=headers))
    assert [s["id"] for s in listed["items"]] == [snap["id"]]
    # Branch B sees neither the audience nor the snapshot.
    other = login_headers(client, "manager_b")
    assert client.get(f"/api/audience-snapshots/{snap['id']}", headers=other).status_code == 404
    assert db.scalar(select(Audience.archived).where(Audience.id == audience["id"])) is False
