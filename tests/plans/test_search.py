"""jieba tokenisation and BM25 ranking for the plan archive, and field-by-field version comparison."""

from __future__ import annotations

from omniloop.plans import search
from omniloop.plans.versions import compare


def test_tokenize_drops_punctuation_and_stopwords_and_splits_compounds():
    tokens = search.tokenize("信用卡新客首刷活动的预算，共50万元！")
    assert "信用卡" in tokens and "首刷" in tokens and "50" in tokens
    assert "的" not in tokens and "，" not in tokens and "！" not in tokens


def test_rank_prefers_more_matched_terms_then_bm25():
    docs = [
        "理财到期客户挽留活动，面向理财到期客户",
        "信用卡新客首刷有礼，信用卡首刷送立减金",
        "信用卡分期手续费优惠",
        "手机银行绑卡激励",
    ]
    hits = search.rank("信用卡首刷", [search.tokenize(d) for d in docs])
    assert [h.index for h in hits] == [1, 2]
    assert set(hits[0].terms) >= {"信用卡", "首刷"} and "首刷" not in hits[1].terms and "信用卡" in hits[1].terms
    assert hits[0].score > hits[1].score
    assert search.rank("跨境汇款", [search.tokenize(d) for d in docs]) == []
    assert search.rank("，。", [search.tokenize(d) for d in docs]) == []


def test_rank_on_a_single_document_corpus_still_scores_positive():
    hits = search.rank("挽留", [search.tokenize("理财到期挽留")])
    assert len(hits) == 1 and hits[0].score > 0


def test_snippets_surround_terms():
    text = "前言。" * 30 + "本次活动针对沉睡客户开展唤醒营销。" + "结尾。" * 30
    snippets = search.snippets(text, ["沉睡", "唤醒"])
    assert len(snippets) == 1 and "沉睡客户" in snippets[0] and snippets[0].startswith("…")


def test_compare_marks_changed_fields_only():
    rows = compare({"title": "A", "channels": ["sms"], "budget_fen": 100}, {"title": "A", "channels": ["sms", "wechat"],
                                                                          "budget_fen": 100})
    changed = [r["field"] for r in rows if r["changed"]]
    assert changed == ["channels"]
    title = next(r for r in rows if r["field"] == "title")
    assert (title["label_zh"], title["before"], title["after"]) == ("活动名称", "A", "A")
