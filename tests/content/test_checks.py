"""Content checks (D6): SMS segments, opt-out text, WeChat and push limits, blocked words, unknown variables."""

from __future__ import annotations

import pytest

from omniloop.content import checks
from omniloop.content.models import BlockedWord


def codes(problems) -> list[str]:
    return [p.code for p in problems]


@pytest.mark.parametrize(("text", "encoding", "units", "segments"), [
    ("", "gsm7", 0, 0),
    ("a" * 160, "gsm7", 160, 1),
    ("a" * 161, "gsm7", 161, 2),
    ("a" * 306, "gsm7", 306, 2),
    ("a" * 307, "gsm7", 307, 3),
    ("[" * 80, "gsm7", 160, 1),  # extension characters count twice
    ("中" * 70, "ucs2", 70, 1),
    ("中" * 71, "ucs2", 71, 2),
    ("中" * 134, "ucs2", 134, 2),
    ("中" * 135, "ucs2", 135, 3),
    ("😀" * 35, "ucs2", 70, 1),  # an emoji is two UTF-16 units
    ("a" * 69 + "中", "ucs2", 70, 1),  # one Chinese character makes the whole message UCS-2
])
def test_sms_segments(text, encoding, units, segments):
    length = checks.sms_length(text)
    assert (length.encoding, length.units, length.segments) == (encoding, units, segments)


def test_sms_marketing_needs_opt_out_and_counts_segments_with_longest_values():
    base = "{{ customer.salutation }}您好，您的{{ benefit.name }}已到账。"
    problems = checks.check_template("sms", None, base, None, "marketing", [])
    assert codes(problems) == ["sms_unsubscribe_missing"]
    assert checks.check_template("sms", None, base, None, "service", []) == []
    assert checks.check_template("sms", None, base + "{{ unsubscribe }}", None, "marketing", []) == []
    for text in ("拒收请回复R", "回T退订", "退订回T", "退订请回复TD"):
        assert checks.check_template("sms", None, base + text, None, "marketing", []) == [], text
    # 60 literal characters fit alone, but not with the longest branch name (15 characters).
    long = "中" * 60 + "{{ customer.branch }}拒收请回复R"
    problem = checks.check_template("sms", None, long, None, "marketing", [])[0]
    assert problem.code == "sms_multi_segment" and problem.severity == "warning"
    assert problem.detail["segments"] == 2 and problem.detail["encoding"] == "ucs2"
    assert codes(checks.check_template("sms", None, "中" * 700, None, "service", [])) == ["sms_too_long"]


def test_wechat_field_limits():
    # The longest benefit name (17) with its date (12) is 29 characters, over the 20 a field may hold.
    long = {"keyword1": "{{ benefit.name }}（{{ benefit.valid_to }}）", "keyword2": "{{ benefit.valid_to }}"}
    problems = checks.check_template("wechat", None, "", long, "marketing", [])
    assert codes(problems) == ["wechat_field_too_long"]
    assert problems[0].field == "fields.keyword1"
    fine = {"keyword1": "{{ benefit.amount }}元", "keyword2": "{{ benefit.valid_to }}"}
    assert checks.check_template("wechat", None, "", fine, "marketing", []) == []
    assert codes(checks.check_template("wechat", None, "", {}, "marketing", [])) == ["wechat_fields_missing"]
    six = {f"keyword{i}": "x" for i in range(6)}
    assert codes(checks.check_template("wechat", None, "", six, "marketing", [])) == ["wechat_too_many_fields"]


def test_push_and_email_limits():
    assert codes(checks.check_template("app_push", None, "正文", None, "marketing", [])) == ["push_title_missing"]
    assert codes(checks.check_template("app_push", "标" * 21, "正" * 101, None, "marketing", [])) == [
        "push_title_too_long", "push_body_too_long"]
    assert codes(checks.check_template("email", None, "<p>hi</p>", None, "marketing", [])) == ["email_subject_missing"]
    assert checks.check_template("email", "{{ campaign.name }}", "<p>{{ customer.salutation }}</p>", None,
                                 "marketing", []) == []


def test_blocked_words_ignore_case_and_dodging_spaces():
    words = ["保本保息", "稳赚", "VIP专享"]
    problems = checks.check_template("app_push", "稳 赚 不赔", "保本·保息，vip专享", None, "marketing", words)
    assert [(p.code, p.detail["word"], p.field) for p in problems] == [
        ("blocked_word", "稳赚", "subject"), ("blocked_word", "保本保息", "body"), ("blocked_word", "VIP专享", "body")]


def test_unknown_variables_and_syntax_errors_are_reported_with_the_field():
    problems = checks.check_template("sms", None, "{{ customer.nmae }}{{ coupon }}拒收请回复R", None, "marketing",
                                     ["稳赚"])
    assert [(p.code, p.detail.get("variable")) for p in problems] == [
        ("unknown_variable", "customer.nmae"), ("unknown_variable", "coupon")]
    problems = checks.check_template("sms", None, "稳赚 {{ customer.name ", None, "marketing", ["稳赚"])
    assert codes(problems) == ["syntax_error", "blocked_word"]
    assert problems[0].line == 1


def test_unknown_channel():
    assert codes(checks.check_template("fax", None, "x", None, "marketing", [])) == ["unknown_channel"]


def test_used_variables_and_loading_blocked_words(db):
    assert checks.used_variables("{{ campaign.name }}", "{{ customer.salutation }}{{ campaign.name }}",
                                 {"k": "{{ benefit.amount }}"}) == ["campaign.name", "customer.salutation",
                                                                   "benefit.amount"]
    db.add_all([BlockedWord(word="稳赚"), BlockedWord(word="保本")])
    db.commit()
    assert checks.load_blocked_words(db) == sorted(["稳赚", "保本"])
