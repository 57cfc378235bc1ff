"""Full-text search over archived plans (方案归档检索): jieba tokens ranked by BM25.

Tokens are computed when a plan or its documents change (``tokenize``) and stored on the plan, so a query
only tokenises itself and ranks the candidate plans the caller may read.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import cache

from rank_bm25 import BM25Plus

_WORD = re.compile(r"[\w\u4e00-\u9fff]", re.UNICODE)
_STOPWORDS = frozenset("的 了 和 与 及 或 在 是 为 对 等 将 由 于 并 其 该 本 以 中 上 下 个 年 月 日 元".split())
SNIPPET_CHARS = 60


@cache
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def tokenize(text: str) -> list[str]:
    """Search-mode jieba tokens, lower-cased, without punctuation, whitespace and stop words."""
    if not text:
        return []
    return [
        token for token in (t.strip().lower() for t in _jieba().lcut_for_search(text))
        if token and token not in _STOPWORDS and _WORD.search(token)
    ]


@dataclass(frozen=True)
class Hit:
    index: int  # position in the candidates passed to ``rank``
    score: float
    terms: list[str]  # query terms found in the candidate


def rank(query: str, candidates: list[list[str]]) -> list[Hit]:
    """Candidates (token lists) that contain at least one query term, best first."""
    terms = list(dict.fromkeys(tokenize(query)))
    if not terms or not candidates:
        return []
    matched = []
    for index, tokens in enumerate(candidates):
        vocabulary = set(tokens)
        found = [t for t in terms if t in vocabulary]
        if found:
            matched.append((index, found))
    if not matched:  # also spares BM25 a corpus of empty documents (average length 0)
        return []
    # BM25+ keeps every IDF positive, which matters for the small corpora of one bank's archive.
    scores = BM25Plus(candidates).get_scores(terms)
    hits = [Hit(index, float(scores[index]), found) for index, found in matched]
    hits.sort(key=lambda h: (-len(h.terms), -h.score, h.index))
    return hits


def snippets(text: str, terms: list[str], *, limit: int = 3) -> list[str]:
    """Up to ``limit`` short passages of ``text`` around the terms, for highlighting in the console."""
    if not text:
        return []
    lowered = text.lower()
    found: list[str] = []
    taken: list[tuple[int, int]] = []
    for term in sorted(terms, key=len, reverse=True):
        at = lowered.find(term)
        if at < 0:
            continue
        start = max(0, at - SNIPPET_CHARS // 2)
        end = min(len(text), at + len(term) + SNIPPET_CHARS // 2)
        if any(start < e and s < end for s, e in taken):
            continue
        taken.append((start, end))
        piece = text[start:end].replace("\n", " ").strip()
        found.append(("…" if start else "") + piece + ("…" if end < len(text) else ""))
        if len(found) >= limit:
            break
    return found
