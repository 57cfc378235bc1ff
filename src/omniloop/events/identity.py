"""Identity stitching (身份识别与合并): which customer an event belongs to.

A ``userId`` that is a customer number names that customer; any other id (an anonymous id, a partner's
or the app's own user id) is looked up in ``event_identities``. ``identify`` (userId + anonymousId) links
the anonymous id to the user's customer; ``alias`` (previousId → userId) links whichever side is not yet
a customer to the other side's customer. Two customer numbers are never merged.

Every link is kept in ``event_identity_merges``. When an identifier is linked, the events stored earlier
under it that had no customer get the customer **in the same transaction** as the linking message:
the events one device sends before its user signs in are few, so this never needs a background job.

A partner source (合作方) only sees customers of its org subtree: a customer number outside it, or an
identity linked to a customer outside it, is treated as unknown — the event is stored unidentified, the
link is not made, and the partner learns nothing about which customer numbers exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, bindparam, func, text
from sqlalchemy.dialects import postgresql, sqlite

from omniloop.events.messages import Message
from omniloop.events.models import Identity, IdentityMerge


@dataclass(slots=True)
class _Known:
    customer_id: int | None
    user_id: str | None
    kind: str
    foreign: bool = False  # linked to a customer outside the partner's scope: left alone


@dataclass
class Resolver:
    """Identity state for one ingest request, loaded in a few queries and updated in memory."""

    conn: Connection
    source_id: int
    scope_path: str | None  # a partner source's org path; None: the whole bank
    now: datetime
    customers: dict[str, int] = field(default_factory=dict)
    identities: dict[str, _Known] = field(default_factory=dict)
    _upserts: dict[str, _Known] = field(default_factory=dict)
    _links: list[tuple[str, int, Message, str, int | None]] = field(default_factory=list)

    # ---- loading ------------------------------------------------------------------------------------

    def load(self, messages: Iterable[Message]) -> None:
        user_ids: set[str] = set()
        others: set[str] = set()
        for m in messages:
            if m.user_id:
                user_ids.add(m.user_id)
            if m.anonymous_id:
                others.add(m.anonymous_id)
            if m.previous_id:
                others.add(m.previous_id)
        numbers = user_ids | others
        if numbers:
            rows = self.conn.execute(
                text("SELECT c.customer_no, c.id, o.path FROM customers c JOIN orgs o ON o.id = c.org_id "
                     "WHERE c.customer_no IN :numbers").bindparams(bindparam("numbers", expanding=True)),
                {"numbers": list(numbers)},
            ).all()
            self.customers = {no: cid for no, cid, path in rows if self._in_scope(path)}
        lookup = (others | user_ids) - set(self.customers)
        if lookup:
            rows = self.conn.execute(
                text("SELECT i.value, i.customer_id, i.user_id, i.kind, o.path FROM event_identities i "
                     "LEFT JOIN customers c ON c.id = i.customer_id LEFT JOIN orgs o ON o.id = c.org_id "
                     "WHERE i.value IN :values").bindparams(bindparam("values", expanding=True)),
                {"values": list(lookup)},
            ).all()
            for value, customer_id, user_id, kind, path in rows:
                foreign = customer_id is not None and not self._in_scope(path)
                self.identities[value] = _Known(None if foreign else customer_id, user_id, kind, foreign)

    def _in_scope(self, path: str | None) -> bool:
        return self.scope_path is None or (path is not None and path.startswith(self.scope_path))

    # ---- lookups ------------------------------------------------------------------------------------

    def customer_of(self, value: str | None) -> int | None:
        if not value:
            return None
        customer_id = self.customers.get(value)
        if customer_id is not None:
            return customer_id
        known = self.identities.get(value)
        return known.customer_id if known else None

    def customer_for(self, message: Message) -> int | None:
        return self.customer_of(message.user_id) or self.customer_of(message.anonymous_id)

    # ---- identify / alias ---------------------------------------------------------------------------

    def apply(self, message: Message) -> None:
        if message.type == "identify" and message.user_id and message.anonymous_id:
            self._identify(message)
        elif message.type == "alias":
            self._alias(message)

    def _identify(self, m: Message) -> None:
        anonymous, user = m.anonymous_id, m.user_id
        if anonymous in self.customers:
            return  # a customer number used as anonymous id: nothing to link
        target = self.customer_of(user)
        existing = self.identities.get(anonymous)
        if existing is not None and existing.foreign:
            return
        if target is not None and (existing is None or existing.customer_id != target):
            self._link(anonymous, "anonymous", target, user, m, existing)
        elif existing is None or existing.user_id != user:
            known = _Known(existing.customer_id if existing else None, user, existing.kind if existing else "anonymous")
            self.identities[anonymous] = self._upserts[anonymous] = known

    def _alias(self, m: Message) -> None:
        previous, user = m.previous_id, m.user_id
        new_side, old_side = self.customer_of(user), self.customer_of(previous)
        if new_side is not None:
            if previous in self.customers or new_side == old_side:
                return  # never merge two customers; nothing new otherwise
            existing = self.identities.get(previous)
            if existing is not None and existing.foreign:
                return
            self._link(previous, existing.kind if existing else "external", new_side, user, m, existing)
        elif old_side is not None:
            existing = self.identities.get(user)
            if existing is not None and existing.foreign:
                return
            self._link(user, "external", old_side, None, m, existing)
        else:
            existing = self.identities.get(previous)
            if existing is None or not existing.foreign:
                known = _Known(None, user, existing.kind if existing else "external")
                self.identities[previous] = self._upserts[previous] = known

    def _link(self, value: str, kind: str, customer_id: int, user_id: str | None, m: Message,
              existing: _Known | None) -> None:
        known = _Known(customer_id, user_id if user_id is not None else (existing.user_id if existing else None), kind)
        self.identities[value] = self._upserts[value] = known
        self._links.append((value, customer_id, m, kind, existing.customer_id if existing else None))

    # ---- writing ------------------------------------------------------------------------------------

    def flush(self) -> set:
        """Write identities and merges and attach earlier events; returns the days whose stored events
        changed (for the Parquet export to rewrite)."""
        if not self._upserts:
            return set()
        postgres = self.conn.dialect.name == "postgresql"
        insert = postgresql.insert if postgres else sqlite.insert
        table = Identity.__table__
        rows = [{"value": v, "kind": k.kind, "customer_id": k.customer_id, "user_id": k.user_id,
                 "source_id": self.source_id, "first_seen_at": self.now,
                 "linked_at": self.now if k.customer_id is not None else None}
                for v, k in sorted(self._upserts.items())]
        stmt = insert(table).values(rows)
        stmt = stmt.on_conflict_do_update(index_elements=["value"], set_={
            "customer_id": func.coalesce(stmt.excluded.customer_id, table.c.customer_id),
            "user_id": func.coalesce(stmt.excluded.user_id, table.c.user_id),
            "linked_at": func.coalesce(stmt.excluded.linked_at, table.c.linked_at),
        })
        self.conn.execute(stmt)
        days: set = set()
        merges = []
        for value, customer_id, m, kind, previous in self._links:
            attached = self._attach(value, customer_id, days)
            # Anonymous ids identified as this user id before it was known now follow it too.
            if kind == "external":
                for other in self.conn.execute(
                    text("UPDATE event_identities SET customer_id = :c, linked_at = :now "
                         "WHERE user_id = :v AND customer_id IS NULL RETURNING value"),
                    {"c": customer_id, "v": value, "now": self.now},
                ).scalars().all():
                    attached += self._attach(other, customer_id, days)
            merges.append({"customer_id": customer_id, "identity": value, "kind": kind, "via": m.type,
                           "previous_customer_id": previous, "source_id": self.source_id,
                           "message_id": m.message_id, "events_attached": attached, "at": self.now})
        if merges:
            self.conn.execute(IdentityMerge.__table__.insert(), merges)
        return days

    def _attach(self, value: str, customer_id: int, days: set) -> int:
        count = 0
        for column in ("anonymous_id", "user_id"):
            changed = self.conn.execute(
                text(f"UPDATE events SET customer_id = :c WHERE customer_id IS NULL AND {column} = :v RETURNING day"),
                {"c": customer_id, "v": value},
            ).scalars().all()
            count += len(changed)
            days.update(changed)
        return count

