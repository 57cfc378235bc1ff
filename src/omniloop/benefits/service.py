"""Benefit grants (权益发放): reserve inventory and budget atomically, confirm on delivery, release on failure.

The invariant — ``0 <= inventory_left`` and ``budget_used_fen <= budget_fen`` whatever runs at the same
time — is kept by the database, not by Python: every change of ``inventory_left`` / ``budget_used_fen`` is
one conditional UPDATE whose WHERE clause re-checks the limit. On PostgreSQL a concurrent UPDATE of the
same row waits for the first to commit and re-evaluates its WHERE against the new row (READ COMMITTED);
on SQLite the UPDATE holds the database's write lock. No SELECT … then UPDATE, so no lost update.

A grant row is unique per (benefit, campaign, occasion, customer) and inserted with ON CONFLICT DO
NOTHING, so a re-run (or two workers racing on the same chunk) reserves once: the loser gives its
surplus back in the same transaction and returns the winner's grant ids.

None of these functions commits: they run inside the caller's transaction (the wave's chunk, the
dispatcher's receipt), so a rollback there undoes the reservation too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from omniloop.benefits.models import Benefit, BenefitGrant
from omniloop.core.db import insert_for, utcnow
from omniloop.core.errors import Conflict, NotFound

_INSERT_CHUNK = 500  # rows per INSERT: SQLite allows 32 766 bound parameters per statement
LIVE = ("reserved", "granted")


class BenefitNotFound(NotFound):
    code = "benefit_not_found"
    message_zh = "权益不存在或不在您的管辖范围内"
    message_en = "Benefit not found or outside your scope"


class BenefitUnavailable(Conflict):
    """The benefit cannot be granted now (inactive, not yet valid or expired)."""

    code = "benefit_unavailable"
    message_zh = "权益当前不可发放"
    message_en = "The benefit cannot be granted now"


def availability_problem(benefit: Benefit, now: datetime) -> tuple[str, str, str] | None:
    """(code, zh, en) when ``benefit`` cannot be granted at ``now``; None when it can."""
    if benefit.status != "active":
        return "benefit_inactive", f"权益「{benefit.name}」已停用", f"Benefit {benefit.code} is inactive"
    if benefit.valid_from is not None and now < benefit.valid_from:
        return ("benefit_not_started", f"权益「{benefit.name}」尚未到生效时间",
                f"Benefit {benefit.code} is not valid yet")
    if benefit.valid_to is not None and now >= benefit.valid_to:
        return "benefit_expired", f"权益「{benefit.name}」已过期", f"Benefit {benefit.code} has expired"
    return None


def _take(session: Session, benefit: Benefit, wanted: int) -> int:
    """Take up to ``wanted`` units of inventory (and their budget); returns how many were taken."""
    cost = benefit.unit_cost_fen
    n = wanted
    while n > 0:
        taken = session.execute(
            update(Benefit)
            .where(Benefit.id == benefit.id, Benefit.inventory_left >= n,
                   or_(Benefit.budget_fen.is_(None), Benefit.budget_used_fen + n * cost <= Benefit.budget_fen))
            .values(inventory_left=Benefit.inventory_left - n, budget_used_fen=Benefit.budget_used_fen + n * cost)
            .execution_options(synchronize_session=False)
        ).rowcount
        if taken:
            return n
        # Fewer remain than wanted: read what is left now and ask for that (the conditional UPDATE above
        # re-checks it, so a concurrent grant between this read and the next UPDATE only makes us loop).
        left, budget, used = session.execute(
            select(Benefit.inventory_left, Benefit.budget_fen, Benefit.budget_used_fen).where(Benefit.id == benefit.id)
        ).one()
        room = left
        if budget is not None and cost > 0:
            room = min(room, max(0, (budget - used) // cost))
        n = min(n - 1, room)
    return 0


def _give_back(session: Session, benefit_id: int, count: int, cost_fen: int) -> None:
    if count <= 0:
        return
    session.execute(
        update(Benefit).where(Benefit.id == benefit_id)
        .values(inventory_left=Benefit.inventory_left + count, budget_used_fen=Benefit.budget_used_fen - cost_fen)
        .execution_options(synchronize_session=False)
    )


def _existing(session: Session, *, benefit_id: int, campaign_id: int, occasion: str,
              customer_ids: Sequence[int]) -> dict[int, tuple[int, str]]:
    found: dict[int, tuple[int, str]] = {}
    for start in range(0, len(customer_ids), _INSERT_CHUNK):
        chunk = customer_ids[start:start + _INSERT_CHUNK]
        rows = session.execute(
            select(BenefitGrant.customer_id, BenefitGrant.id, BenefitGrant.status).where(
                BenefitGrant.benefit_id == benefit_id, BenefitGrant.campaign_id == campaign_id,
                BenefitGrant.occasion == occasion, BenefitGrant.customer_id.in_(chunk))
        ).all()
        found.update({c: (i, s) for c, i, s in rows})
    return found


def reserve(session: Session, *, benefit_id: int, campaign_id: int, occasion: str,
            customer_ids: Sequence[int], now: datetime | None = None) -> dict[int, int]:
    """Reserve one unit of ``benefit_id`` for each customer (预占库存); returns customer id → grant id.

    Customers missing from the result got nothing: inventory or budget ran out (a partial grant takes
    what is left, in the order given). Idempotent per (benefit, campaign, occasion, customer): a re-run
    returns the existing reserved/granted grants and reserves nothing again; a grant already released on
    this occasion stays released (the occasion's contact finally failed), so that customer is missing.
    Raises ``BenefitNotFound`` (404) or ``BenefitUnavailable`` (409; code benefit_inactive /
    benefit_not_started / benefit_expired).
    """
    now = now or utcnow()
    benefit = session.get(Benefit, benefit_id, populate_existing=True)
    if benefit is None:
        raise BenefitNotFound(details={"benefit_id": benefit_id})
    problem = availability_problem(benefit, now)
    if problem:
        code, zh, en = problem
        raise BenefitUnavailable(zh, en, code=code, details={"benefit_id": benefit_id})
    wanted = list(dict.fromkeys(customer_ids))
    if not wanted:
        return {}
    existing = _existing(session, benefit_id=benefit_id, campaign_id=campaign_id, occasion=occasion,
                         customer_ids=wanted)
    result = {c: gid for c, (gid, status) in existing.items() if status in LIVE}
    fresh = [c for c in wanted if c not in existing]
    taken = _take(session, benefit, len(fresh))
    if taken:
        inserted: dict[int, int] = {}
        cost = benefit.unit_cost_fen
        for start in range(0, taken, _INSERT_CHUNK):
            chunk = fresh[start:min(start + _INSERT_CHUNK, taken)]
            # executemany with RETURNING: SQLAlchemy batches it ("insertmanyvalues") without compiling a
            # statement per chunk of rows, which a multi-row VALUES clause would.
            stmt = insert_for(session)(BenefitGrant).on_conflict_do_nothing().returning(BenefitGrant.customer_id, BenefitGrant.id)
            rows = [dict(benefit_id=benefit_id, campaign_id=campaign_id, occasion=occasion, customer_id=c,
                         status="reserved", cost_fen=cost, reserved_at=now) for c in chunk]
            inserted.update(dict(session.execute(stmt, rows).all()))
        result.update(inserted)
        lost = [c for c in fresh[:taken] if c not in inserted]
        if lost:
            # Another transaction reserved these customers first (a racing re-run): give our units back
            # and answer with its grants.
            _give_back(session, benefit_id, len(lost), len(lost) * cost)
            raced = _existing(session, benefit_id=benefit_id, campaign_id=campaign_id, occasion=occasion,
                              customer_ids=lost)
            result.update({c: gid for c, (gid, status) in raced.items() if status in LIVE})
    session.expire(benefit)
    return result


def confirm(session: Session, *, grant_ids: Sequence[int], now: datetime | None = None) -> int:
    """Mark reserved grants granted (已发放) on delivery; returns how many changed. Idempotent."""
    ids = list(set(grant_ids))
    if not ids:
        return 0
    changed = 0
    for start in range(0, len(ids), _INSERT_CHUNK):
        changed += session.execute(
            update(BenefitGrant)
            .where(BenefitGrant.id.in_(ids[start:start + _INSERT_CHUNK]), BenefitGrant.status == "reserved")
            .values(status="granted", granted_at=now or utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
    return changed


def release(session: Session, *, grant_ids: Sequence[int], reason: str, now: datetime | None = None) -> int:
    """Release grants (释放): inventory and budget go back exactly once per grant, whoever calls twice.

    The status change and the give-back are one conditional UPDATE … RETURNING per chunk, so of two
    concurrent releases of the same grant only one sees it change. Returns how many were released.
    """
    ids = list(set(grant_ids))
    if not ids:
        return 0
    returned: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for start in range(0, len(ids), _INSERT_CHUNK):
        rows = session.execute(
            update(BenefitGrant)
            .where(BenefitGrant.id.in_(ids[start:start + _INSERT_CHUNK]), BenefitGrant.status.in_(LIVE))
            .values(status="released", released_at=now or utcnow(), release_reason=reason[:100])
            .returning(BenefitGrant.benefit_id, BenefitGrant.cost_fen)
            .execution_options(synchronize_session=False)
        ).all()
        for benefit_id, cost in rows:
            returned[benefit_id][0] += 1
            returned[benefit_id][1] += cost
    for benefit_id in sorted(returned):  # a fixed order, so two releases never deadlock on benefit rows
        count, cost = returned[benefit_id]
        _give_back(session, benefit_id, count, cost)
    return sum(c for c, _ in returned.values())


def adjust_inventory(session: Session, *, benefit_id: int, delta: int) -> bool:
    """Add (or, negative, remove) units; refuses to remove more than are left. True when applied."""
    return bool(session.execute(
        update(Benefit)
        .where(Benefit.id == benefit_id, Benefit.inventory_left + delta >= 0, Benefit.inventory_total + delta >= 0)
        .values(inventory_total=Benefit.inventory_total + delta, inventory_left=Benefit.inventory_left + delta,
                version=Benefit.version + 1)
        .execution_options(synchronize_session=False)
    ).rowcount)


def check_consistency(session: Session, *, benefit_id: int) -> dict:
    """Inventory and budget next to what the live grants say they should be (tests, the console's check)."""
    benefit = session.get(Benefit, benefit_id, populate_existing=True)
    if benefit is None:
        raise BenefitNotFound(details={"benefit_id": benefit_id})
    live, cost = session.execute(
        select(func.count(BenefitGrant.id), func.coalesce(func.sum(BenefitGrant.cost_fen), 0))
        .where(BenefitGrant.benefit_id == benefit_id, BenefitGrant.status.in_(LIVE))
    ).one()
    return {"inventory_total": benefit.inventory_total, "inventory_left": benefit.inventory_left,
            "live_grants": live, "budget_fen": benefit.budget_fen, "budget_used_fen": benefit.budget_used_fen,
            "live_cost_fen": int(cost)}
