"""The pure contact-policy engine: every rule kind, rolling windows, quiet hours, arbitration, consent, lists."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from omniloop.contacts import reasons
from omniloop.contacts.policy import (
    CapRule,
    CustomerContactState,
    IntervalRule,
    PastContact,
    Policy,
    Proposal,
    QuietRule,
    decide,
    next_allowed,
)

# 2026-11-23 10:00 Asia/Shanghai (a Monday)
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
SMS_WEEK = CapRule(1, "短信每周2次", "sms", None, 168, 2)
ALL_WEEK = CapRule(2, "全渠道每周4次", None, None, 168, 4)
QUIET = QuietRule(3, "夜间免打扰", "sms", time(21), time(8), "Asia/Shanghai")


def proposal(campaign_id=1, channels=("sms",), *, at=NOW, priority=5, value=0, ctype="marketing", customer=7,
             occasion="wave:1"):
    return Proposal(campaign_id, occasion, customer, tuple(channels), ctype, priority, value, at)


def past(channel, hours_ago, campaign_id=99, ctype="marketing"):
    return PastContact(channel, (NOW - timedelta(hours=hours_ago)).timestamp(), campaign_id, ctype, "wave:0")


def state(**kw):
    return CustomerContactState(7, **kw)


def one(policy, p=None, history=(), st=None):
    return decide(st or state(), [p or proposal()], list(history), policy, now=NOW)[0]


def test_no_rules_allows_the_first_channel_and_carries_the_fallback():
    d = one(Policy(), proposal(channels=("app_push", "sms", "rm_task")))
    assert (d.outcome, d.channel, d.reason, d.fallback) == ("allowed", "app_push", None, ("sms", "rm_task"))
    assert d.at == NOW


def test_channel_cap_is_rolling_not_calendar():
    policy = Policy(caps=[SMS_WEEK])
    # Two SMS 6 and 7 days ago: the rolling 168 h still holds them although a calendar week has turned.
    d = one(policy, history=[past("sms", 24 * 6), past("sms", 24 * 7 - 1)])
    assert (d.outcome, d.reason) == ("skipped", "cap_week_sms")
    assert d.detail["limit"] == 2 and d.detail["count"] == 2 and d.detail["rolling"] is True
    # One of them just over 168 h ago: allowed again.
    assert one(policy, history=[past("sms", 24 * 6), past("sms", 168.5)]).outcome == "allowed"
    # Other channels do not count against an SMS cap.
    assert one(policy, history=[past("app_push", 1), past("app_push", 2)]).outcome == "allowed"


def test_cross_channel_cap_and_fallback_to_the_next_channel():
    policy = Policy(caps=[SMS_WEEK, ALL_WEEK])
    history = [past("sms", 1), past("sms", 2), past("app_push", 3)]
    d = one(policy, proposal(channels=("sms", "app_push")), history)
    assert (d.outcome, d.channel) == ("allowed", "app_push")
    assert d.detail["tried"][0]["reason"] == "cap_week_sms"
    history.append(past("wechat", 4))
    d = one(policy, proposal(channels=("sms", "app_push")), history)
    assert (d.outcome, d.channel, d.reason) == ("skipped", "app_push", "cap_week_all")
    assert [t["reason"] for t in d.detail["tried"]] == ["cap_week_sms", "cap_week_all"]


def test_pending_future_contacts_count_against_the_cap():
    policy = Policy(caps=[CapRule(1, "day", "sms", None, 24, 1)])
    planned = PastContact("sms", (NOW + timedelta(hours=10)).timestamp(), 5, "marketing", "wave:9")
    assert one(policy, history=[planned]).reason == "cap_day_sms"


def test_cap_for_a_campaign_type_counts_only_that_type():
    policy = Policy(caps=[CapRule(1, "marketing sms", "sms", "marketing", 24, 1)])
    assert one(policy, history=[past("sms", 2, ctype="service")]).outcome == "allowed"
    assert one(policy, history=[past("sms", 2)]).reason == "cap_day_sms"
    assert one(policy, proposal(ctype="service"), [past("sms", 2)]).outcome == "allowed"


def test_minimum_interval_per_channel_and_campaign_type():
    policy = Policy(intervals=[IntervalRule(1, "营销24小时间隔", None, "marketing", 24)])
    d = one(policy, history=[past("app_push", 23)])
    assert (d.outcome, d.reason) == ("skipped", "min_interval_all")
    assert d.detail["last_campaign_id"] == 99
    assert one(policy, history=[past("app_push", 25)]).outcome == "allowed"
    assert one(policy, proposal(ctype="care"), [past("app_push", 1)]).outcome == "allowed"
    sms_only = Policy(intervals=[IntervalRule(1, "短信12小时", "sms", None, 12)])
    assert one(sms_only, history=[past("app_push", 1)]).outcome == "allowed"
    assert one(sms_only, history=[past("sms", 11)]).reason == "min_interval_sms"


def test_quiet_hours_defer_across_midnight_to_the_next_allowed_time():
    policy = Policy(quiet=[QUIET])
    # 22:30 Shanghai on the 23rd → 08:00 on the 24th (00:00 UTC).
    late = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
    d = one(policy, proposal(at=late))
    assert (d.outcome, d.reason, d.channel) == ("deferred", "quiet_hours", "sms")
    assert d.defer_until == datetime(2026, 11, 24, 0, 0, tzinfo=UTC) == d.at
    # 03:00 Shanghai (after midnight) → 08:00 the same local day.
    early = datetime(2026, 11, 23, 19, 0, tzinfo=UTC)
    assert one(policy, proposal(at=early)).defer_until == datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
    # 20:59 is outside; app push has no quiet rule.
    assert one(policy, proposal(at=datetime(2026, 11, 23, 12, 59, tzinfo=UTC))).outcome == "allowed"
    assert one(policy, proposal(at=late, channels=("app_push",))).outcome == "allowed"


def test_chained_quiet_rules_and_a_daytime_window():
    lunch = QuietRule(4, "午休", None, time(8), time(9), "Asia/Shanghai")
    at = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)  # 22:30 local → 08:00 → lunch rule → 09:00
    assert next_allowed([QUIET, lunch], at) == datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    assert next_allowed([QUIET], NOW) == NOW


def test_deferred_contact_is_checked_at_its_send_time():
    policy = Policy(quiet=[QUIET], caps=[CapRule(1, "day", "sms", None, 24, 1)])
    late = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)  # deferred to 00:00 UTC on the 24th
    # 20 h before the proposed time but 29.5 h before the deferred send time: outside the rolling day.
    earlier = PastContact("sms", (late - timedelta(hours=20)).timestamp(), 5)
    assert decide(state(), [proposal(at=late)], [earlier], policy)[0].outcome == "deferred"
    # 23.5 h before the send time: blocked.
    recent = PastContact("sms", (late - timedelta(hours=14)).timestamp(), 5)
    assert decide(state(), [proposal(at=late)], [recent], policy)[0].reason == "cap_day_sms"


def test_arbitration_by_priority_then_expected_value_with_explanation():
    policy = Policy(caps=[CapRule(1, "day all", None, None, 24, 1)])
    low = proposal(1, priority=3, value=900)
    high = proposal(2, priority=8, value=10)
    rich = proposal(3, priority=3, value=5000)
    decisions = decide(state(), [low, high, rich], [], policy, now=NOW)
    assert [d.outcome for d in decisions] == ["skipped", "allowed", "skipped"]
    assert decisions[0].reason == "outranked"
    assert decisions[0].detail["rivals"] == [{"campaign_id": 2, "priority": 8, "expected_value_fen": 10}]
    assert decisions[0].detail["arbitration"] == {"rank": 3, "of": 3}
    assert decisions[2].detail["arbitration"]["rank"] == 2
    # Equal priority: the higher expected value wins.
    decisions = decide(state(), [low, rich], [], policy, now=NOW)
    assert [d.outcome for d in decisions] == ["skipped", "allowed"]
    # Capacity for two: both go out.
    two = Policy(caps=[CapRule(1, "day all", None, None, 24, 2)])
    assert [d.outcome for d in decide(state(), [low, high, rich], [], two, now=NOW)] == \
        ["skipped", "allowed", "allowed"]


def test_history_is_first_come_first_served_not_outranked():
    policy = Policy(caps=[CapRule(1, "day all", None, None, 24, 1)])
    d = one(policy, proposal(priority=9), [past("app_push", 1, campaign_id=50)])
    assert d.reason == "cap_day_all"


def test_consent_withdrawn_blocks_and_email_needs_a_grant():
    policy = Policy()
    d = one(policy, proposal(channels=("sms",)), st=state(consents={"sms": "withdrawn"}))
    assert (d.outcome, d.reason, d.channel) == ("skipped", "no_consent", "sms")
    assert one(policy, proposal(channels=("email",))).reason == "no_consent"
    assert one(policy, proposal(channels=("email",)), st=state(consents={"email": "granted"})).outcome == "allowed"
    # An RM task is the banker's own contact: a withdrawal of electronic marketing does not stop it.
    d = one(policy, proposal(channels=("sms", "rm_task")), st=state(consents={"sms": "withdrawn", "rm_task": "withdrawn"}))
    assert (d.outcome, d.channel) == ("allowed", "rm_task")


def test_dnd_and_suppression_lists():
    policy = Policy()
    d = one(policy, proposal(channels=("sms", "rm_task")), st=state(dnd=True))
    assert (d.outcome, d.reason, d.channel) == ("skipped", "dnd", None)
    d = one(policy, proposal(channels=("sms", "app_push")), st=state(suppressed_channels=frozenset({"sms"})))
    assert (d.outcome, d.channel) == ("allowed", "app_push")
    assert one(policy, proposal(1), st=state(suppressed_campaigns=frozenset({1}))).reason == "suppressed_campaign"
    assert one(policy, proposal(2), st=state(suppressed_campaigns=frozenset({1}))).outcome == "allowed"
    assert one(policy, st=state(suppressed_all=True)).reason == "suppressed"


def test_unreachable_channels_fall_back():
    d = one(Policy(), proposal(channels=("app_push", "sms")), st=state(app_user=False))
    assert (d.outcome, d.channel, d.detail["tried"][0]["reason"]) == ("allowed", "sms", "unreachable")
    d = one(Policy(), proposal(channels=("sms",)), st=state(has_phone=False))
    assert d.reason == "unreachable"


def test_rerun_of_the_same_occasion_is_allowed_again_and_duplicates_skipped():
    policy = Policy(caps=[CapRule(1, "day sms", "sms", None, 24, 1)])
    own = PastContact("sms", NOW.timestamp(), 1, "marketing", "wave:1")
    d = one(policy, proposal(1), [own])
    assert (d.outcome, d.detail) == ("allowed", {"already_recorded": True})
    decisions = decide(state(), [proposal(1), proposal(1)], [], policy, now=NOW)
    assert [d.reason for d in decisions] == [None, "duplicate"]


def test_disabled_rules_are_ignored_and_reason_labels():
    class Row:
        def __init__(self, **kw):
            self.__dict__.update(kw)

    rows = [Row(id=1, kind="cap", name="x", channel="sms", campaign_type=None, window_hours=24, max_contacts=0,
                enabled=False),
            Row(id=2, kind="cap", name="y", channel=None, campaign_type=None, window_hours=720, max_contacts=0,
                enabled=True)]
    policy = Policy.from_rules(rows)
    assert one(policy).reason == "cap_month_all"
    assert reasons.label("cap_month_all") == "全渠道频次上限（滚动30天）"
    assert reasons.label("cap_week_sms", "en") == "SMS frequency cap (rolling 7 days)"
    assert reasons.label("min_interval_sms", "en") == "SMS minimum interval"
    assert reasons.label("dnd", "en") == "Global do-not-disturb"
