"""Synthetic customers of the demo bank (模拟客户), generated column-wise with numpy.

One generator feeds both the operational database (``seed_demo``) and the Parquet benchmark files
(``generate_parquet``). Customers come in fixed blocks of ``BLOCK`` rows, each drawn from its own random
stream ``(seed, block)``: customer ``C0000000123`` is the same whatever the chunk size or total count, and
the demo database holds exactly the first rows of the ten-million-row benchmark file.

Attributes are correlated the way a bank analyst expects them to be: AUM is log-normal and grows with
age up to retirement; private-banking customers hold at least 6 M yuan; product holdings follow AUM; the
young log in to the app more; payroll customers are more active and wealthier. Each customer follows a
twelve-month trajectory — stable, growing, declining (churning), dormant or newly acquired — so that a
lifecycle model has something to find. ``lifecycle_stage`` itself is left for that model to compute.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from omniloop.customers.loader import resident_id_check_chars, uscc_check_chars
from omniloop.demo import names, reference, text
from omniloop.demo.layout import BankLayout

BLOCK = 10_000
MONTHS = 12
SEGMENTS = ("retail", "private", "corporate", "small_business")
RETAIL, PRIVATE, CORPORATE, SMALL_BUSINESS = range(4)
RISK_LEVELS = ("R1", "R2", "R3", "R4", "R5")
TRENDS = ("stable", "growing", "declining", "dormant", "new")
STABLE, GROWING, DECLINING, DORMANT, NEW = range(5)

PRIVATE_THRESHOLD_YUAN = 6_000_000  # 私人银行客户: financial assets of at least 6 M yuan
BANK_FOUNDED = np.datetime64("1997-01-01")

# Trajectory shares by age band (<30, 30-50, >50), columns in TRENDS order.
_TREND_BY_AGE = np.array([
    [0.32, 0.28, 0.13, 0.12, 0.15],
    [0.44, 0.20, 0.14, 0.14, 0.08],
    [0.54, 0.10, 0.14, 0.18, 0.04],
])
_TREND_CORPORATE = np.array([0.50, 0.20, 0.14, 0.10, 0.06])

_LOCAL_DIVISIONS = [code for *_, districts in reference.BRANCHES for *_, code in districts]
_DIVISIONS = _LOCAL_DIVISIONS + reference.MIGRANT_DIVISIONS
_DIVISION_DIGITS = np.array([np.frombuffer(d.encode(), dtype=np.uint8) for d in _DIVISIONS])
_MOBILE_PREFIX_DIGITS = np.array([np.frombuffer(p.encode(), np.uint8) for p, _ in reference.MOBILE_PREFIXES])
_MOBILE_PREFIX_WEIGHTS = np.array([w for _, w in reference.MOBILE_PREFIXES])
_MOBILE_PREFIX_CUM = np.cumsum(_MOBILE_PREFIX_WEIGHTS) / _MOBILE_PREFIX_WEIGHTS.sum()


@dataclass(frozen=True)
class CustomerChunk:
    """Generated customers ``start .. start + len - 1`` (0-based) and their monthly history.

    ``customers`` has the loader's columns (``org_code`` and ``rm_username`` name the org and RM);
    ``org_index`` / ``rm_index`` (-1: no RM) point into the layout for callers that map them to ids;
    ``monthly`` rows refer to customers by ``customer_pos``, the row in ``customers``; ``trend`` is the
    true trajectory, which is not stored anywhere but lets tests check what a model recovers.
    """

    start: int
    customers: pa.Table
    org_index: np.ndarray
    rm_index: np.ndarray
    trend: np.ndarray
    monthly: pa.Table

    def __len__(self) -> int:
        return self.customers.num_rows


def default_as_of(today: date) -> date:
    """The latest complete month (first day) before ``today``: month-end figures exist only for it."""
    first = today.replace(day=1)
    return date(first.year - 1, 12, 1) if first.month == 1 else first.replace(month=first.month - 1)


def history_months(as_of: date) -> np.ndarray:
    """The twelve month starts ending with ``as_of``'s month, as ``datetime64[D]``."""
    last = np.datetime64(as_of.replace(day=1), "M")
    return (last - np.arange(MONTHS - 1, -1, -1)).astype("datetime64[D]")


def _ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    months = days.astype("datetime64[M]")
    day_of_month = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
    return years, months.astype(np.int64) % 12 + 1, day_of_month


def _categorical(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """One draw per row from the row's probability vector."""
    cumulative = np.cumsum(probabilities, axis=1)
    u = rng.random(len(probabilities))[:, None] * cumulative[:, -1:]
    return (u > cumulative).sum(axis=1)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def generate_block(layout: BankLayout, *, seed: int, block: int, as_of: date) -> CustomerChunk:
    """All ``BLOCK`` customers of block ``block`` (customers ``block * BLOCK`` onwards)."""
    rng = np.random.default_rng([seed, 0, block])
    n = BLOCK
    start = block * BLOCK
    months = history_months(as_of)
    month_end = (np.datetime64(as_of.replace(day=1), "M") + 1).astype("datetime64[D]") - 1

    # ---- who: segment, org, age, gender ---------------------------------------------------------------
    segment = np.searchsorted(np.cumsum([0.895, 0.005, 0.025, 0.075]), rng.random(n), side="right").clip(0, 3)
    corporate = segment == CORPORATE
    person = ~corporate
    sub = np.searchsorted(np.cumsum(layout.sub_weights), rng.random(n), side="right")
    sub = sub.clip(0, len(layout.sub_branches) - 1)
    age = np.where(segment == PRIVATE, rng.normal(52, 10, n),
                   np.where(segment == SMALL_BUSINESS, rng.normal(44, 9, n), rng.normal(42, 15, n)))
    # The general population below 18 is folded into young adults rather than piled up at exactly 18.
    age = np.where(age < 18, 18 + 12 * rng.random(n), age).clip(18, 90)
    female = rng.random(n) < np.where(segment == SMALL_BUSINESS, 0.38, 0.51)
    birth = month_end - (age * 365.25).astype(np.int64)
    birth_year, birth_month, birth_day = _ymd(birth)

    # ---- trajectory and AUM (资产管理规模), log-normal, rising with age until retirement ----------------
    band = np.where(age < 30, 0, np.where(age <= 50, 1, 2))
    trend = _categorical(rng, np.where(corporate[:, None], _TREND_CORPORATE, _TREND_BY_AGE[band]))
    trend = np.where((segment == PRIVATE) & (trend == DORMANT), STABLE, trend)
    payroll = person & (age >= 22) & (age <= 60) & (rng.random(n) < np.where(segment == RETAIL, 0.32, 0.06))
    age_effect = (1.8 * (1 - ((age - 58) / 40) ** 2)).clip(0, None)
    log_aum = np.select(
        [segment == RETAIL, segment == SMALL_BUSINESS, corporate],
        [np.log(6_000) + age_effect + 0.35 * payroll + rng.normal(0, 1.6, n),
         np.log(60_000) + rng.normal(0, 1.4, n),
         np.log(500_000) + rng.normal(0, 1.8, n)],
        default=np.log(3_000_000) + rng.normal(0, 1.0, n),
    )
    log_aum += np.select([trend == NEW, trend == DECLINING, trend == GROWING], [-1.0, -0.3, 0.4], 0.0)
    aum_yuan = np.exp(log_aum)
    aum_yuan = np.where(segment == PRIVATE, PRIVATE_THRESHOLD_YUAN + aum_yuan, aum_yuan)
    # Dormant accounts keep a small leftover balance, sometimes almost nothing.
    aum_yuan = np.where(trend == DORMANT, np.exp(rng.normal(np.log(40), 1.5, n)).clip(0, 3_000), aum_yuan)
    segment = np.where((segment == RETAIL) & (aum_yuan >= PRIVATE_THRESHOLD_YUAN), PRIVATE, segment)
    aum_fen = np.round(aum_yuan * 100).astype(np.int64)
    log10_aum = np.log10(np.maximum(aum_yuan, 1.0))

    # ---- products held: wealth, funds and insurance follow AUM; risk appetite falls with age --------
    active = trend != DORMANT
    risk_score = rng.normal(0, 1, n) - np.where(person, 0.025 * (age - 42), 0.0)
    risk = np.searchsorted([-1.2, -0.35, 0.5, 1.3], risk_score)
    has_wealth = active & (aum_yuan >= 10_000) & (rng.random(n) < _sigmoid(1.2 * (log10_aum - 5)))
    fund_bias = np.where(risk >= 2, 1.0, 0.3) * np.where(age < 50, 1.2, 0.7)
    fund_rate = (_sigmoid(log10_aum - 5.2) * fund_bias).clip(0, 0.9)
    has_fund = active & (aum_yuan >= 1_000) & (rng.random(n) < fund_rate)
    has_insurance = active & person & (rng.random(n) < _sigmoid(0.9 * (log10_aum - 5.5))
                                       * np.where((age >= 30) & (age <= 65), 1.0, 0.5))
    risk = np.where(has_fund & (risk == 0), 1, risk)  # funds are R2 products at least
    # Deposit-only customers often never took the risk questionnaire (未做风险测评).
    risk_missing = ~has_wealth & ~has_fund & (rng.random(n) < 0.45)

    weights = np.stack([
        rng.gamma(2.0, 1.0, n),
        1.6 * rng.gamma(2.0, 1.0, n) * has_wealth,
        0.8 * rng.gamma(1.5, 1.0, n) * has_fund,
        0.5 * rng.gamma(1.5, 1.0, n) * has_insurance,
    ], axis=1)
    shares = weights / weights.sum(axis=1, keepdims=True)
    wealth_fen, fund_fen, insurance_fen = (np.floor(aum_fen[:, None] * shares[:, 1:]).astype(np.int64)).T
    # Deposits take the remainder, so the assets add up to AUM to the fen.
    deposit_fen = aum_fen - wealth_fen - fund_fen - insurance_fen

    mortgage = person & (age >= 25) & (age <= 55) & (rng.random(n) < 0.12)
    consumer = person & (rng.random(n) < 0.08)
    business = np.where(segment == SMALL_BUSINESS, rng.random(n) < 0.45, corporate & (rng.random(n) < 0.35))
    loan_yuan = (mortgage * rng.lognormal(np.log(600_000), 0.6, n)
                 + consumer * rng.lognormal(np.log(50_000), 0.8, n)
                 + business * rng.lognormal(np.where(corporate, np.log(5_000_000), np.log(800_000)), 1.0, n))
    loan_fen = np.round(loan_yuan * 100).astype(np.int64)

    card_rate = np.where((age >= 23) & (age <= 50), 0.45, np.where(age < 65, 0.2, 0.08))
    card_rate = card_rate * np.where(payroll, 1.3, 1.0)
    has_card = person & (rng.random(n) < card_rate)
    card_active = has_card & (rng.random(n) < np.where(trend == NEW, 0.5, np.where(age < 50, 0.85, 0.6)))

    # ---- twelve months of month-end AUM and app logins along the trajectory -------------------------
    back = np.arange(MONTHS - 1, -1, -1)[None, :]  # months before the latest one
    noise = rng.normal(0, 0.03, (n, MONTHS)) * (trend != DORMANT)[:, None]
    noise[:, -1] = 0
    walk = np.cumsum(noise[:, ::-1], axis=1)[:, ::-1]
    # Monthly log-growth, read backwards from the latest month: decliners had more, growers less; the
    # stable majority drifts up with interest and markets, so the bank's book grows a few percent a year.
    slope = np.select([trend == GROWING, trend == DECLINING, trend == NEW, trend == STABLE],
                      [-rng.uniform(0.02, 0.07, n), rng.uniform(0.03, 0.10, n), -rng.uniform(0.10, 0.35, n),
                       np.full(n, -0.004)], 0.0)
    monthly_aum = np.round(aum_fen[:, None] * np.exp(slope[:, None] * back + walk)).astype(np.int64)
    monthly_aum[:, -1] = aum_fen
    opened_month = np.where(trend == NEW, rng.integers(0, MONTHS, n), -1)
    present = np.arange(MONTHS)[None, :] >= opened_month[:, None]

    app_user = rng.random(n) < np.where(corporate, 0.5, _sigmoid(2.5 - 0.06 * (age - 18)))
    rate = (rng.lognormal(np.log(5), 0.9, n) * np.where(age < 35, 1.5, 1.0) * np.where(payroll, 1.25, 1.0)
            * np.where(has_fund | has_wealth, 1.2, 1.0)).clip(0.3, 90) * app_user
    since_open = np.arange(MONTHS)[None, :] - opened_month[:, None]
    # Activity along the trajectory, one row of month multipliers per trend (dormant: none at all).
    curves = np.stack([np.ones(MONTHS), np.linspace(0.5, 1.3, MONTHS), np.linspace(1.3, 0.05, MONTHS),
                       np.zeros(MONTHS), np.ones(MONTHS)])
    shape = np.where((trend == NEW)[:, None], (0.3 + 0.25 * since_open).clip(0, 1.2), curves[trend])
    month_noise = 0.6 + 0.8 * rng.random((n, MONTHS))
    logins = rng.poisson(rate[:, None] * shape * month_noise).astype(np.int32)

    # ---- account opening ----------------------------------------------------------------------------
    tenure_years = np.minimum(rng.exponential(6.0, n), np.maximum(age - 18, 0.2))
    opened_before = months[0] - 1 - (tenure_years * 365.25).astype(np.int64)
    opened_before = np.maximum(opened_before, BANK_FOUNDED)
    opened_new = months[opened_month.clip(0)] + rng.integers(0, 28, n)
    first_account = np.where(trend == NEW, opened_new, opened_before)

    # ---- RM (管户客户经理): everyone valuable has one; a share of small retail customers has none ------
    assign_rate = np.where(segment == RETAIL, 0.55 + 0.45 * _sigmoid(1.5 * (log10_aum - 4.5)), 0.97)
    assign_rate = np.where(trend == DORMANT, assign_rate * 0.5, assign_rate)
    has_rm = rng.random(n) < assign_rate
    rm_pick = layout.rm_offset[sub] + (rng.random(n) * layout.rm_count[sub]).astype(np.int64)
    rm_index = np.where(has_rm, rm_pick, -1)

    # ---- identity: name, phone, resident ID (居民身份证号) or unified social credit code ----------------
    city = np.array([s.city_index for s in layout.sub_branches])[sub]
    person_name = names.person_names(rng, female=female, birth_year=birth_year)
    company_name = names.company_names(rng, city=city)
    name = pc.if_else(pa.array(corporate), company_name, person_name)

    local_division = np.array([_LOCAL_DIVISIONS.index(s.division) for s in layout.sub_branches])[sub]
    migrant = rng.random(n) < 0.25
    migrant_division = len(_LOCAL_DIVISIONS) + rng.integers(0, len(reference.MIGRANT_DIVISIONS), n)
    division = np.where(migrant & person, migrant_division, local_division)
    sequence = rng.integers(0, 500, n) * 2 + ~female  # the 17th digit is odd for men, even for women
    id_body = np.hstack([_DIVISION_DIGITS[division], text.digits(birth_year, 4), text.digits(birth_month, 2),
                         text.digits(birth_day, 2), text.digits(sequence, 3)])
    resident_id = np.hstack([id_body, resident_id_check_chars(id_body)[:, None]])
    # 统一社会信用代码: 9 (registered with the market regulator) 1 (enterprise), division, organisation code.
    uscc_body = np.hstack([np.full((n, 2), [ord("9"), ord("1")], dtype=np.uint8),
                           _DIVISION_DIGITS[local_division], text.digits(rng.integers(0, 10**9, n), 9)])
    uscc = np.hstack([uscc_body, uscc_check_chars(uscc_body)[:, None]])
    id_number = text.fixed_width(np.where(corporate[:, None], uscc, resident_id))

    prefix = np.searchsorted(_MOBILE_PREFIX_CUM, rng.random(n), side="right")
    prefix = prefix.clip(0, len(_MOBILE_PREFIX_DIGITS) - 1)
    subscriber = text.digits(rng.integers(0, 10**8, n), 8)
    phone = text.fixed_width(np.hstack([_MOBILE_PREFIX_DIGITS[prefix], subscriber]))
    customer_no = text.fixed_width(np.hstack([np.full((n, 1), ord("C"), dtype=np.uint8),
                                              text.digits(np.arange(start + 1, start + n + 1), 10)]))

    customers = pa.table({
        "customer_no": customer_no,
        "org_code": text.pick([s.code for s in layout.sub_branches], sub),
        "rm_username": text.pick([r.username for r in layout.rms], rm_index.clip(0), null=rm_index < 0),
        "name": name,
        "gender": text.pick(("M", "F"), female.astype(np.int64), null=corporate),
        "birth_date": pa.array(birth.astype("datetime64[D]"), mask=corporate),
        "phone": phone,
        "id_number": id_number,
        "risk_level": text.pick(RISK_LEVELS, risk, null=risk_missing),
        "segment": text.pick(SEGMENTS, segment),
        "deposit_fen": deposit_fen,
        "wealth_fen": wealth_fen,
        "fund_fen": fund_fen,
        "insurance_fen": insurance_fen,
        "loan_fen": loan_fen,
        "has_credit_card": has_card,
        "credit_card_activated": card_active,
        "aum_fen": aum_fen,
        "app_logins_month": logins[:, -1],
        "first_account_date": pa.array(first_account.astype("datetime64[D]")),
        "payroll_flag": payroll,
    })
    flat = np.flatnonzero(present.ravel())
    rows, cols = flat // MONTHS, flat % MONTHS
    monthly = pa.table({
        "customer_pos": rows.astype(np.int32),
        "month": pa.array(months[cols]),
        "aum_fen": monthly_aum[rows, cols],
        "app_logins": logins[rows, cols],
    })
    return CustomerChunk(start, customers, sub, rm_index, trend, monthly)


def iter_chunks(
    layout: BankLayout, *, seed: int, customers: int, chunk: int, as_of: date
) -> Iterator[CustomerChunk]:
    """Customers ``0 .. customers - 1`` in chunks of about ``chunk`` rows (whole blocks, the last one cut)."""
    blocks_per_chunk = max(1, chunk // BLOCK)
    total_blocks = -(-customers // BLOCK)
    for first in range(0, total_blocks, blocks_per_chunk):
        parts = [generate_block(layout, seed=seed, block=b, as_of=as_of)
                 for b in range(first, min(first + blocks_per_chunk, total_blocks))]
        yield _cut(_concat(parts), customers - first * BLOCK)


def _concat(parts: list[CustomerChunk]) -> CustomerChunk:
    if len(parts) == 1:
        return parts[0]
    offsets = np.cumsum([0] + [len(p) for p in parts[:-1]])
    monthly = pa.concat_tables([
        p.monthly.set_column(0, "customer_pos",
                             pa.array(p.monthly["customer_pos"].to_numpy() + offset, pa.int32()))
        for p, offset in zip(parts, offsets, strict=True)
    ])
    return CustomerChunk(
        parts[0].start, pa.concat_tables([p.customers for p in parts]),
        np.concatenate([p.org_index for p in parts]), np.concatenate([p.rm_index for p in parts]),
        np.concatenate([p.trend for p in parts]), monthly,
    )


def _cut(chunk: CustomerChunk, size: int) -> CustomerChunk:
    if size >= len(chunk):
        return chunk
    positions = chunk.monthly["customer_pos"].to_numpy()
    return CustomerChunk(
        chunk.start, chunk.customers.slice(0, size), chunk.org_index[:size], chunk.rm_index[:size],
        chunk.trend[:size], chunk.monthly.filter(pa.array(positions < size)),
    )
