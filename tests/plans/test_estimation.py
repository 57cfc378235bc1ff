"""Campaign estimation (C2): similarity and its explanation, ROI, the model's held-out error, the budget check,
insufficient history, scope, the model cache and the demo history seed."""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select

from omniloop.audiences.models import Audience
from omniloop.benefits.models import Benefit
from omniloop.campaigns.models import Campaign, CampaignResult
from omniloop.core.audit import SYSTEM, AuditRecord
from omniloop.core.clock import Clock
from omniloop.demo.history import ARCHETYPES, CAMPAIGNS, seed_history
from omniloop.demo.tags import DEMO_TAGS
from omniloop.org.roles import Role
from omniloop.plans import estimation
from omniloop.plans.estimation import expected_from_text, roi
from omniloop.plans.models import Plan, PlanVersion
from omniloop.plans.similarity import WEIGHTS, campaign_features, jaccard, plan_features, similarity
from tests.factories import create_bank, create_user, login_headers


@pytest.fixture(autouse=True)
def _fresh_model_cache():
    # Each test rebuilds the database; the cache key (counts, ids, times, sums) could repeat across tests.
    estimation.clear_cache()
    yield
    estimation.clear_cache()


def _history(db, *, seed: int = 42, campaigns: int = CAMPAIGNS):
    bank = create_bank(db)
    result = seed_history(db, actor=SYSTEM, seed=seed, campaigns=campaigns)
    db.commit()
    return bank, result


def _plan_like(db, campaign: Campaign) -> dict:
    """Plan fields with every feature of ``campaign``."""
    kind = db.scalar(select(Benefit.kind).where(Benefit.id == campaign.benefit_id)) if campaign.benefit_id else None
    benefit_type = {"coupon": "cash_coupon", "points": "points", "cashback": "fee_waiver", "gift": "gift",
                    None: "none"}[kind]
    mode = {"triggered": "event"}.get(campaign.mode, campaign.mode)
    return {"title": "测算用方案", "lifecycle_stage": campaign.lifecycle_stage, "business_line": campaign.business_line,
            "channels": campaign.channels, "benefit_type": benefit_type, "mode": mode,
            "audience_id": campaign.audience_id, "expected_reach": 20_000, "budget_fen": 10_000_000}


# ---- pure parts -----------------------------------------------------------------------------------------

def test_similarity_is_a_weighted_sum_explained_term_by_term():
    plan = plan_features(lifecycle_stage="novice", business_line="credit_card", mode="event",
                         benefit_type="cash_coupon", channels=["sms", "app_push"],
                         audience_tags=["mobile_active", "lifecycle_status"])
    same = campaign_features(lifecycle_stage="novice", business_line="retail", mode="triggered", benefit_kind="coupon",
                             channels=["app_push", "sms"], audience_tags=["lifecycle_status", "mobile_active"])
    score, terms = similarity(plan, same)
    assert score == 1.0 and {t.feature for t in terms} == set(WEIGHTS)

    other = campaign_features(lifecycle_stage="novice", business_line=None, mode="batch", benefit_kind=None,
                              channels=["sms", "wechat"], audience_tags=["mobile_active"])
    score, terms = similarity(plan, other)
    by = {t.feature: t for t in terms}
    assert by["lifecycle_stage"].contribution == 0.30 and "生命周期阶段相同" in by["lifecycle_stage"].detail_zh
    assert by["channels"].similarity == pytest.approx(1 / 3) and "渠道重合 1/3" in by["channels"].detail_zh
    assert by["audience_tags"].matched == ("mobile_active",) and by["audience_tags"].similarity == 0.5
    assert by["mode"].contribution == 0 and by["benefit_kind"].contribution == 0
    assert score == pytest.approx(sum(t.contribution for t in terms), abs=1e-9)
    assert score == pytest.approx(0.30 + 0.25 * 0.5 + 0.20 / 3, abs=1e-4)

    # A plan naming only its stage is matched on the stage alone (its weight scaled to 1).
    sparse = plan_features(lifecycle_stage="novice", business_line=None, mode=None, benefit_type=None, channels=[],
                           audience_tags=[])
    score, terms = similarity(sparse, other)
    assert score == 1.0 and [t.feature for t in terms] == ["lifecycle_stage"]
    assert jaccard(frozenset(), frozenset()) == 0.0


def test_roi_is_exact_decimal_and_expected_output_is_read_from_text():
    assert roi(30_000, 10_000) == Decimal("2.0000")
    assert roi(1, 3) == Decimal("-0.6667")  # (1 − 3) / 3, half-up at 4 places
    assert roi(10**15 + 1, 10**15) == Decimal("0.0000") and roi(2 * 10**15 + 3, 10**15) == Decimal("1.0000")
    assert roi(500, 0) is None
    assert expected_from_text("预计新增首刷客户4,800户，带动消费约3,000万元") == 4800
    assert expected_from_text("预计激活1.2万人") == 12_000
    assert expected_from_text("预计留存到期资金2.4亿元") is None and expected_from_text(None) is None


# ---- the demo history and the model ---------------------------------------------------------------------

def test_demo_history_is_complete_plausible_and_seeded_once(db):
    bank, result = _history(db)
    assert result["created"] and result["campaigns"] == CAMPAIGNS >= 40
    today = Clock().today()
    campaigns = db.scalars(select(Campaign).where(Campaign.code.like("HIST-%"))).all()
    assert len(campaigns) == CAMPAIGNS and {c.status for c in campaigns} == {"completed"}
    assert all(today - timedelta(days=731) <= c.start_date <= c.end_date < today for c in campaigns)
    assert {c.mode for c in campaigns} == {"batch", "realtime", "triggered"}
    assert len({c.lifecycle_stage for c in campaigns}) == 5 and len({c.owner_org_id for c in campaigns}) > 1
    results = db.scalars(select(CampaignResult)).all()
    assert len(results) == CAMPAIGNS and {r.source for r in results} == {"history"}
    assert all(0 < r.responded < r.sent <= r.audience_size and r.cost_fen > 0 for r in results)
    benefits = db.scalars(select(Benefit).where(Benefit.code.like("HIST-%"))).all()
    assert len(benefits) == 4 and all(b.valid_to.date() < today for b in benefits)
    codes = {spec["code"] for spec in DEMO_TAGS}
    for audience in db.scalars(select(Audience)):
        assert estimation.expression_tags(audience.expression) <= codes and audience.archived
    assert len(ARCHETYPES) >= 10
    assert db.scalar(select(func.count()).select_from(AuditRecord)
                     .where(AuditRecord.action == "campaign.history_import")) == 1
    assert seed_history(db, actor=SYSTEM) == {"created": False}
    # The same seed gives the same numbers: remove the import and seed it again.
    first = sorted((r.sent, r.responded, r.cost_fen, r.revenue_fen) for r in results)
    for model in (CampaignResult, Campaign, PlanVersion, Plan, Audience, Benefit):
        db.execute(delete(model))
    db.commit()
    assert seed_history(db, actor=SYSTEM, seed=42)["created"]
    again = sorted((r.sent, r.responded, r.cost_fen, r.revenue_fen) for r in db.scalars(select(CampaignResult)))
    assert again == first and bank.head.id in {c.owner_org_id for c in db.scalars(select(Campaign))}


def test_model_beats_the_mean_on_held_out_campaigns(db):
    _history(db)
    model = estimation.history(db).model
    e = model.evaluation
    assert (e.n_train, e.n_test) == (36, 12) and model.n_campaigns == CAMPAIGNS
    assert e.mae_pp < 0.8 * e.baseline_mae_pp, e
    coefficients = dict(zip(model.columns, model.coefficients, strict=True))
    # The pattern the demo follows is learnt in its direction.
    assert coefficients["channel=rm_task"] > coefficients["channel=sms"]
    assert coefficients["stage=novice"] > coefficients["stage=dormant"]
    assert coefficients["mode=event"] > coefficients["mode=batch"]


# ---- the API --------------------------------------------------------------------------------------------

def test_estimate_a_plan_identical_to_a_past_campaign(client, db):
    _, _ = _history(db)
    target = db.scalar(select(Campaign).where(Campaign.code.like("HIST-%")).order_by(Campaign.id).limit(1))
    op = login_headers(client, "operator")
    plan = client.post("/api/plans", json=_plan_like(db, target), headers=op).json()
    response = client.get(f"/api/plans/{plan['id']}/estimate", params={"k": 5}, headers=op)
    assert response.status_code == 200, response.text
    body = response.json()
    similar = body["similar"]
    assert len(similar) == 5 and similar[0]["score"] == 1.0
    assert target.id in [s["campaign_id"] for s in similar if s["score"] == 1.0]
    assert [s["score"] for s in similar] == sorted((s["score"] for s in similar), reverse=True)
    for item in similar:
        assert item["score"] == pytest.approx(sum(c["contribution"] for c in item["explanation"]), abs=1e-9)
        result = db.scalar(select(CampaignResult).where(CampaignResult.campaign_id == item["campaign_id"]))
        assert Decimal(item["roi"]) == roi(result.revenue_fen, result.cost_fen)
        assert item["conversion_rate"] == pytest.approx(result.responded / result.sent, abs=1e-6)
        if result.control_size:
            control = result.control_responded / result.control_size
            assert item["lift_pp"] == pytest.approx((result.responded / result.sent - control) * 100, abs=1e-3)
    assert body["features"]["reach"] == 20_000 and body["features"]["reach_source"] == "plan"
    assert set(body["features"]["audience_tags"]) == estimation.expression_tags(
        db.get(Audience, target.audience_id).expression)

    prediction, model = body["prediction"], body["model"]
    assert 0 < prediction["low"] < prediction["conversion_rate"] < prediction["high"] < 1
    assert prediction["imputed"] == []
    assert model["mae_pp"] < model["baseline_mae_pp"] and model["n_train"] + model["n_test"] == CAMPAIGNS
    assert {"channel=rm_task", "log_reach"} <= {f["name"] for f in model["features"]}
    assert any(f["label_zh"].startswith("渠道：") for f in model["features"])
    budget = body["budget"]
    assert budget["predicted_responses"] == round(prediction["conversion_rate"] * 20_000)
    assert budget["cost_per_response_fen"] == round(10_000_000 / budget["predicted_responses"])
    assert budget["cost_per_contact_fen"] == 500


def test_unsaved_values_and_flags_for_an_optimistic_expectation(client, db):
    _history(db)
    op = login_headers(client, "operator")
    values = {"lifecycle_stage": "dormant", "channels": ["sms"], "benefit_type": "none", "mode": "batch",
              "expected_reach": 80_000, "expected_conversion_rate": 0.6, "budget_fen": 1_000_000}
    body = client.post("/api/plans/estimate", json=values, params={"k": 3}, headers=op).json()
    assert body["plan_id"] is None and len(body["similar"]) == 3
    codes = {f["code"] for f in body["flags"]}
    assert {"expected_above_similar", "expected_above_model"} <= codes
    assert body["budget"]["operator_responses"] == 48_000 and body["budget"]["operator_source"] == "fields"
    # Empty features are averaged over the history and said so.
    imputed = {i["feature"] for i in body["prediction"]["imputed"]}
    assert imputed == {"business_line", "audience_tags"}

    text = client.post("/api/plans/estimate", json={"lifecycle_stage": "novice",
                                                     "expected_output": "预计新增绑卡客户4,800户"},
                       headers=op).json()
    assert text["budget"]["operator_source"] == "text" and text["budget"]["operator_responses"] == 4800
    assert "reach_unknown" in {f["code"] for f in text["flags"]}
    cautious = client.post("/api/plans/estimate", json={**values, "expected_conversion_rate": 0.0001},
                           headers=op).json()
    assert "expected_below_model" in {f["code"] for f in cautious["flags"]}
    assert client.post("/api/plans/estimate", json=values, params={"k": 0}, headers=op).status_code == 422
    assert client.post("/api/plans/estimate", json={"audience_id": 999_999}, headers=op).status_code == 404


def test_insufficient_history_is_a_clear_409(client, db):
    _history(db, campaigns=9)
    op = login_headers(client, "operator")
    response = client.post("/api/plans/estimate", json={"lifecycle_stage": "novice"}, headers=op)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "insufficient_history" and error["details"] == {"campaigns": 9, "required": 10}
    assert "历史活动不足" in error["message"]


def test_scope_permissions_and_similar_campaigns_of_other_branches(client, db):
    bank, _ = _history(db)
    create_user(db, org=bank.branch_b, role=Role.branch_manager, username="manager_b")
    db.commit()
    op = login_headers(client, "operator")
    plan_a = client.post("/api/plans", json={"title": "杭州分行方案", "lifecycle_stage": "growth",
                                             "owner_org_id": bank.branch_a.id}, headers=op).json()
    manager_b = login_headers(client, "manager_b")
    hidden = client.get(f"/api/plans/{plan_a['id']}/estimate", headers=manager_b)
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "plan_not_found"
    assert client.get(f"/api/plans/{plan_a['id']}/estimate", headers=login_headers(client, "rm_a")).status_code == 403
    assert client.get(f"/api/plans/{plan_a['id']}/estimate").status_code == 401

    # A branch sees its own and the head office's past campaigns, never another branch's.
    seen = client.post("/api/plans/estimate", json={"lifecycle_stage": "growth"}, params={"k": 20},
                       headers=manager_b).json()["similar"]
    owners = {c.id: c.owner_org_id for c in db.scalars(select(Campaign))}
    assert seen and {owners[s["campaign_id"]] for s in seen} <= {bank.head.id, bank.branch_b.id}
    everything = client.post("/api/plans/estimate", json={"lifecycle_stage": "growth"}, params={"k": 20},
                             headers=op).json()["similar"]
    assert bank.branch_a.id in {owners[s["campaign_id"]] for s in everything}


def test_the_model_is_cached_until_results_change(client, db):
    _history(db)
    op = login_headers(client, "operator")
    first = client.post("/api/plans/estimate", json={"lifecycle_stage": "novice"}, headers=op).json()["model"]
    again = client.post("/api/plans/estimate", json={"lifecycle_stage": "novice"}, headers=op).json()["model"]
    assert again["fitted_at"] == first["fitted_at"]
    result = db.scalar(select(CampaignResult).order_by(CampaignResult.id).limit(1))
    result.responded += 1
    db.commit()
    changed = client.post("/api/plans/estimate", json={"lifecycle_stage": "novice"}, headers=op).json()["model"]
    assert changed["fitted_at"] != first["fitted_at"] and changed["n_campaigns"] == CAMPAIGNS
    assert not math.isnan(changed["mae_pp"])
