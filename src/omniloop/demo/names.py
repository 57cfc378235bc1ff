"""Plausible Chinese person and company names (姓名/企业名称), generated a whole column at a time."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from omniloop.demo import reference, text

SURNAMES = text.Vocabulary.of([s for s, _ in reference.SURNAMES])
_SURNAME_CUM = np.cumsum([w for _, w in reference.SURNAMES]) / sum(w for _, w in reference.SURNAMES)

_GENERATIONS = ("old", "mid", "young")
# One vocabulary for all given-name characters; index 0 is the empty word for one-character names.
_GIVEN_WORDS = [""] + sorted({c for chars in reference.GIVEN_CHARS.values() for c in chars})
GIVEN = text.Vocabulary.of(_GIVEN_WORDS)
_POOL_KEYS = [(g, gen) for g in ("M", "F") for gen in _GENERATIONS]
_POOL_SIZE = np.array([len(reference.GIVEN_CHARS[k]) for k in _POOL_KEYS])
_POOLS = np.zeros((len(_POOL_KEYS), _POOL_SIZE.max()), dtype=np.int64)
for _row, _key in enumerate(_POOL_KEYS):
    _POOLS[_row, : _POOL_SIZE[_row]] = [_GIVEN_WORDS.index(c) for c in reference.GIVEN_CHARS[_key]]

CITIES = text.Vocabulary.of([city for city, *_ in reference.BRANCHES])
TRADE_NAMES = text.Vocabulary.of(reference.TRADE_NAMES)
INDUSTRIES = text.Vocabulary.of(reference.INDUSTRIES)
LEGAL_FORMS = text.Vocabulary.of(reference.LEGAL_FORMS)


def person_names(rng: np.random.Generator, *, female: np.ndarray, birth_year: np.ndarray) -> pa.StringArray:
    """Surname by national frequency; one or two given-name characters in the fashion of the birth year."""
    n = len(female)
    surname = np.searchsorted(_SURNAME_CUM, rng.random(n), side="right").clip(0, len(SURNAMES) - 1)
    generation = np.where(birth_year < 1972, 0, np.where(birth_year < 1992, 1, 2))
    pool = female.astype(np.int64) * len(_GENERATIONS) + generation
    first = _POOLS[pool, (rng.random(n) * _POOL_SIZE[pool]).astype(np.int64)]
    second = _POOLS[pool, (rng.random(n) * _POOL_SIZE[pool]).astype(np.int64)]
    # Single-character given names were common before the 1980s and are rare among the young.
    single = rng.random(n) < np.where(generation == 0, 0.35, np.where(generation == 1, 0.25, 0.08))
    second = np.where(single | (second == first), 0, second)
    return text.join([(SURNAMES, surname), (GIVEN, first), (GIVEN, second)])


def company_names(rng: np.random.Generator, *, city: np.ndarray) -> pa.StringArray:
    """``杭州`` + trade name + industry + legal form, e.g. 杭州恒达科技有限公司."""
    n = len(city)
    return text.join([
        (CITIES, city),
        (TRADE_NAMES, rng.integers(0, len(TRADE_NAMES), n)),
        (INDUSTRIES, rng.integers(0, len(INDUSTRIES), n)),
        (LEGAL_FORMS, rng.integers(0, len(LEGAL_FORMS), n)),
    ])
