"""Tag statistics in the caller's scope (branch managers and RMs count their own customers; head office
the bank) and where a tag is used (audiences, campaigns), which refuses archiving under a live campaign."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from omniloop.core.audit import SYSTEM, AuditRecord
from omniloop.demo.tags import seed_tags
from omniloop.tags.models import TagDefinition
from tests.benefits.factories import create_campaign
from tests.factories import login_headers
from tests.tags.conftest import run


@pytest.fixture
def seeded(tag_bank, db, factory):
    seed_tags(db, actor=SYSTEM)
    db.commit()
    outcome = run(factory, tag_bank.home)
    assert outcome.status == "succeeded", outcome.error
    return tag_bank


def _values(home, code: str) -> dict[int, object]:
    """cid → the tag's value, read straight from the current tag set's Parquet file."""
    import pyarrow.parquet as pq

    from omniloop.tags.tagset import tag_column, tag_store

    store = tag_store(home)
    table = pq.read_table(store.path(store.current_version()), columns=["cid", tag_column(code)])
    return dict(zip(table["cid"].to_pylist(), table[tag_column(code)].to_pylist(), strict=True))


def _tag(db, code: str) -> TagDefinition:
    return db.scalar(select(TagDefinition).where(TagDefinition.code == code))


def test_branch_manager_and_rm_see_their_own_counts_head_office_the_bank(client, seeded, db):
    bank = seeded.bank
    payroll, tier = _tag(db, "payroll"), _tag(db, "value_tier")
    paid, tiers = _values(seeded.home, "payroll"), _values(seeded.home, "value_tier")
    subtree = [c.id for c in seeded.by_org(bank.branch_a, bank.sub_a)]
    own = [c.id for c in seeded.customers if c.rm_id == bank.users["rm_a"].id]

    head = client.get(f"/api/tags/{payroll.id}", headers=login_headers(client, "operator")).json()
    assert head["scope"] == "bank" and head["total_customers"] == len(seeded.customers)
    assert head["coverage"] == sum(1 for v in paid.values() if v) and head["runs"][0]["coverage"] == head["coverage"]
    assert [p["coverage"] for p in head["coverage_history"]] == [head["coverage"]]

    manager_headers = login_headers(client, "manager_a")
    manager = client.get(f"/api/tags/{payroll.id}", headers=manager_headers).json()
    expected = sum(1 for cid in subtree if paid[cid])
    assert manager["scope"] == "org" and manager["scope_org_id"] == bank.branch_a.id
    assert manager["total_customers"] == len(subtree) < head["total_customers"]
    assert manager["coverage"] == expected < head["coverage"]
    yes = next(d for d in manager["distribution"] if d["value"] is True)
    no = next(d for d in manager["distribution"] if d["value"] is False)
    assert (yes["customers"], no["customers"]) == (expected, len(subtree) - expected)
    assert yes["share"] == round(expected / len(subtree), 6)
    assert manager["runs"][0]["coverage"] is None and manager["runs"][0]["changed"] is None  # bank-wide numbers
    assert [p["coverage"] for p in manager["coverage_history"]] == [expected]

    by_tier = client.get(f"/api/tags/{tier.id}", headers=manager_headers).json()
    assert {d["value"]: d["customers"] for d in by_tier["distribution"] if d["customers"]} == \
        dict(Counter(tiers[cid] for cid in subtree))

    listed = client.get("/api/tags", params={"q": "代发"}, headers=manager_headers).json()["items"]
    assert [(t["code"], t["coverage"], t["scope"]) for t in listed] == [("payroll", expected, "org")]

    rm = client.get(f"/api/tags/{payroll.id}", headers=login_headers(client, "rm_a")).json()
    assert rm["scope"] == "assigned" and rm["total_customers"] == len(own)
    assert rm["coverage"] == sum(1 for cid in own if paid[cid])

    stage = _tag(db, "lifecycle_stage")
    stages = _values(seeded.home, "lifecycle_stage")
    scoped = client.get(f"/api/tags/{stage.id}", headers=manager_headers).json()
    assert {d["value"]: d["customers"] for d in scoped["distribution"] if d["customers"]} == \
        dict(Counter(stages[cid] for cid in subtree))


def _audience(client, headers, name: str, expression: dict) -> dict:
    response = client.post("/api/audiences", json={"name": name, "expression": expression}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_usage_lists_audiences_and_campaigns_and_a_live_campaign_blocks_archiving(client, seeded, db):
    bank = seeded.bank
    operator = login_headers(client, "operator")
    payroll = _tag(db, "payroll")
    direct = _audience(client, operator, "代发客户", {"op": "tag", "tag": "payroll", "values": [True]})
    nested = _audience(client, operator, "代发且富裕", {"op": "and", "children": [
        {"op": "audience", "audience_id": direct["id"]}, {"op": "range", "feature": "aum", "min": "100000"}]})
    _audience(client, operator, "不相关", {"op": "tag", "tag": "senior", "values": [True]})
    campaign = create_campaign(db, bank.users["operator"], bank.head)
    campaign.audience_id = nested["id"]
    finished = create_campaign(db, bank.users["operator"], bank.head)
    finished.status, finished.filters = "completed", {"op": "tag", "tag": "payroll", "values": [False]}
    db.commit()

    detail = client.get(f"/api/tags/{payroll.id}", headers=operator).json()
    assert detail["usage"] == 2 and detail["campaign_usage"] == 2
    assert [(a["id"], a["direct"]) for a in detail["used_by"]["audiences"]] == [(direct["id"], True),
                                                                               (nested["id"], False)]
    uses = {c["id"]: c for c in detail["used_by"]["campaigns"]}
    assert uses[campaign.id]["status"] == "draft" and not uses[campaign.id]["finished"]
    assert uses[campaign.id]["audience_name"] == "代发且富裕" and uses[campaign.id]["via"] == "audience"
    assert uses[finished.id]["finished"] and uses[finished.id]["via"] == "filters"

    refused = client.delete(f"/api/tags/{payroll.id}", headers=operator)
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "tag_in_use" and campaign.code in error["message"]
    assert [c["id"] for c in error["details"]["campaigns"]] == [campaign.id]  # the finished one does not block
    patched = client.patch(f"/api/tags/{payroll.id}", json={"status": "archived"}, headers=operator)
    assert patched.status_code == 409 and patched.json()["error"]["code"] == "tag_in_use"
    db.expire_all()
    assert _tag(db, "payroll").status == "active"

    campaign.status = "stopped"
    db.commit()
    archived = client.delete(f"/api/tags/{payroll.id}", headers=operator)
    assert archived.status_code == 200 and archived.json()["status"] == "archived"
    assert db.scalar(select(AuditRecord.action).where(AuditRecord.entity_type == "tag",
                                                      AuditRecord.entity_id == str(payroll.id))
                     .order_by(AuditRecord.id.desc())) == "tag.archive"
