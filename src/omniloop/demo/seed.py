"""Seeding the demo bank (演示银行) into the operational database: org tree, users, customers, history.

Bulk inserts in chunks keep 20 000 customers and their 240 000 monthly rows to seconds on SQLite; the
demo password is hashed once and shared by every demo user, since argon2 is deliberately slow.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from omniloop.core import audit
from omniloop.core.audit import SYSTEM
from omniloop.core.clock import Clock
from omniloop.core.db import utcnow
from omniloop.core.errors import Conflict
from omniloop.core.security import hash_password
from omniloop.customers.models import Customer, CustomerMonthly
from omniloop.demo.generator import BLOCK, default_as_of, iter_chunks
from omniloop.demo.layout import DEMO_PASSWORD, BankLayout, DemoLogin, build_layout
from omniloop.org.models import Org, User
from omniloop.org.roles import Role

Progress = Callable[[int, int], None]
_CUSTOMERS = Customer.__table__
_MONTHLY = CustomerMonthly.__table__


@dataclass(frozen=True)
class DemoSummary:
    created: bool  # False: the demo bank was there already and nothing was written
    orgs: int
    users: int
    customers: int
    monthly_rows: int
    seconds: float
    logins: list[DemoLogin]
    password: str = DEMO_PASSWORD


def _existing_summary(session: Session, layout: BankLayout, started: float) -> DemoSummary:
    return DemoSummary(
        False,
        session.scalar(select(func.count()).select_from(Org)),
        session.scalar(select(func.count()).select_from(User)),
        session.scalar(select(func.count()).select_from(Customer)),
        session.scalar(select(func.count()).select_from(CustomerMonthly)),
        round(time.monotonic() - started, 2),
        layout.logins,
    )


def _create_orgs(session: Session, layout: BankLayout) -> dict[str, Org]:
    """Level by level, since a node's materialised path needs its parent's id."""
    orgs: dict[str, Org] = {}
    for level in ([layout.head], layout.branches, layout.sub_branches):
        batch = [Org(code=spec.code, name=spec.name, name_en=spec.name_en, level=spec.level, path="",
                     parent_id=orgs[spec.parent_code].id if spec.parent_code else None) for spec in level]
        session.add_all(batch)
        session.flush()
        for spec, org in zip(level, batch, strict=True):
            parent_path = orgs[spec.parent_code].path if spec.parent_code else "/"
            org.path = f"{parent_path}{org.id}/"
            orgs[spec.code] = org
    session.flush()
    return orgs


def _create_users(session: Session, layout: BankLayout, orgs: dict[str, Org]) -> dict[str, int]:
    password_hash = hash_password(DEMO_PASSWORD)
    now = utcnow()
    rm_names = {rm.username for rm in layout.rms}
    specs: list[tuple[str, str, str, str]] = [
        (login.username, login.display_name, login.org_code, login.role.value)
        for login in layout.logins if login.username not in rm_names
    ]
    specs += [(rm.username, rm.display_name, layout.sub_branches[rm.sub_index].code, Role.rm.value)
              for rm in layout.rms]
    rows = [{"username": username, "display_name": display, "org_id": orgs[org_code].id, "role": role,
                 "password_hash": password_hash, "created_at": now, "updated_at": now}
            for username, display, org_code, role in specs]
    users = User.__table__
    ids = session.scalars(insert(users).returning(users.c.id, sort_by_parameter_order=True), rows).all()
    return {row["username"]: user_id for row, user_id in zip(rows, ids, strict=True)}


def _reserve_customer_ids(session: Session, count: int) -> np.ndarray:
    """Ids for ``count`` new customers, taken before the insert: RETURNING them afterwards is several
    times slower on PostgreSQL than the insert itself."""
    if session.get_bind().dialect.name == "postgresql":
        reserved = session.scalars(
            text(f"SELECT nextval(pg_get_serial_sequence('{_CUSTOMERS.name}', 'id')) FROM generate_series(1, :n)"),
            {"n": count},
        ).all()
        return np.array(reserved, dtype=np.int64)
    # SQLite: this transaction already holds the database's write lock (the orgs went in first), so no
    # other writer can take ids between this read and the insert.
    start = session.scalar(select(func.coalesce(func.max(_CUSTOMERS.c.id), 0))) + 1
    return np.arange(start, start + count, dtype=np.int64)


def _insert_history(session: Session, monthly: pa.Table, customer_ids: np.ndarray) -> int:
    """Monthly rows, twelve a customer, straight to the driver: COPY on PostgreSQL, executemany on SQLite.

    The history is nine tenths of the demo's rows; SQLAlchemy's per-row parameter processing would cost
    more than the database does.
    """
    ids = customer_ids[monthly["customer_pos"].to_numpy()].tolist()
    aum, logins = monthly["aum_fen"].to_pylist(), monthly["app_logins"].to_pylist()
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        months = monthly["month"].to_pylist()
        with connection.connection.driver_connection.cursor() as cursor, cursor.copy(
            f"COPY {_MONTHLY.name} (customer_id, month, aum_fen, app_logins) FROM STDIN"
        ) as copy:
            for row in zip(ids, months, aum, logins, strict=True):
                copy.write_row(row)
    else:
        # SQLite keeps dates as ISO text, which is what SQLAlchemy's Date type would have written.
        months = monthly["month"].cast(pa.string()).to_pylist()
        connection.exec_driver_sql(
            f"INSERT INTO {_MONTHLY.name} (customer_id, month, aum_fen, app_logins) VALUES (?, ?, ?, ?)",
            list(zip(ids, months, aum, logins, strict=True)),
        )
    return len(ids)


def seed_demo(
    session: Session,
    *,
    customers: int = 20_000,
    seed: int = 42,
    as_of: date | None = None,
    progress: Progress | None = None,
) -> DemoSummary:
    """Create the demo bank with ``customers`` customers and commit; a no-op if it exists already.

    Refuses a database that holds some other org tree: the demo's logins (``admin``, ...) would clash.
    """
    started = time.monotonic()
    layout = build_layout(seed)
    if session.scalar(select(Org.id).where(Org.code == layout.head.code)) is not None:
        return _existing_summary(session, layout, started)
    if session.scalar(select(Org.id).limit(1)) is not None:
        raise Conflict(
            "数据库中已有其他机构数据，演示银行只能装入空数据库",
            "The database already holds an org tree; the demo bank loads only into an empty database",
        )
    as_of = as_of or default_as_of(Clock().today())

    orgs = _create_orgs(session, layout)
    user_ids = _create_users(session, layout, orgs)
    sub_ids = np.array([orgs[s.code].id for s in layout.sub_branches], dtype=np.int64)
    rm_ids = np.array([user_ids[r.username] for r in layout.rms], dtype=np.int64)
    now = utcnow()
    done = monthly_rows = 0
    for chunk in iter_chunks(layout, seed=seed, customers=customers, chunk=BLOCK, as_of=as_of):
        ids = _reserve_customer_ids(session, len(chunk))
        columns = chunk.customers.drop_columns(["org_code", "rm_username"]).to_pydict()
        columns["id"] = ids.tolist()
        columns["org_id"] = sub_ids[chunk.org_index].tolist()
        columns["rm_id"] = [None if r < 0 else int(rm_ids[r]) for r in chunk.rm_index]
        names = list(columns)
        rows = [dict(zip(names, values, strict=True), created_at=now, updated_at=now)
                for values in zip(*columns.values(), strict=True)]
        # A Core insert on the table: the ORM's bulk path would split the rows wherever None values
        # differ, into thousands of tiny statements.
        session.execute(insert(_CUSTOMERS), rows)
        monthly_rows += _insert_history(session, chunk.monthly, ids)
        done += len(chunk)
        if progress:
            progress(done, customers)

    audit.record(session, actor=SYSTEM, action="demo.seed", entity_type="demo", entity_id=layout.head.code,
                 after={"seed": seed, "as_of": as_of.isoformat(), "orgs": len(orgs), "users": len(user_ids),
                        "customers": done, "monthly_rows": monthly_rows})
    session.commit()
    seconds = round(time.monotonic() - started, 2)
    return DemoSummary(True, len(orgs), len(user_ids), done, monthly_rows, seconds, layout.logins)
