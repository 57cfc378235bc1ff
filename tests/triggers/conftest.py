"""Shared set-up for trigger tests: the bank, customers, an app source, and helpers that send events through
the real ``/v1/batch`` API and define triggers through ``/api/triggers``."""

from __future__ import annotations

import base64
import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from omniloop.core.audit import SYSTEM
from omniloop.events import service as event_service
from omniloop.events.schemas import EventSourceCreate
from omniloop.triggers.dispatch import TriggerRunner
from omniloop.triggers.models import TriggerFiring
from tests.factories import create_bank, create_customer, login_headers

WRITE_KEY = "test-trigger-write-key"
_messages = itertools.count(1)


def basic(key: str = WRITE_KEY) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode(),
            "Content-Type": "application/json"}


def track(customer_no: str, event: str, properties: dict | None = None, *, ts: datetime | None = None,
          message_id: str | None = None) -> dict:
    message = {"type": "track", "userId": customer_no, "event": event, "properties": properties or {},
               "messageId": message_id or f"msg-{next(_messages)}"}
    if ts is not None:
        message["timestamp"] = ts.isoformat()  # no sentAt: stored as given (no clock-skew correction)
    return message


def send(client, *messages: dict) -> None:
    r = client.post("/v1/batch", content=json.dumps({"batch": list(messages)}, ensure_ascii=False).encode(),
                    headers=basic())
    assert r.status_code == 200, r.text


@pytest.fixture
def bank(db):
    return create_bank(db)


@pytest.fixture
def world(db, bank):
    """Customers ``a1`` (sub_a, rm_a), ``a2`` (sub_a, rm_a2), ``b1`` (sub_b, rm_b); an app source."""
    users = bank.users
    customers = {
        "a1": create_customer(db, org=bank.sub_a, rm=users["rm_a"], name="王小明"),
        "a2": create_customer(db, org=bank.sub_a, rm=users["rm_a2"], name="李四海"),
        "b1": create_customer(db, org=bank.sub_b, rm=users["rm_b"], name="赵六一"),
    }
    event_service.create_source(session=db, data=EventSourceCreate(name="手机银行", kind="app", org_id=bank.head.id),
                                actor=SYSTEM, root=None, write_key=WRITE_KEY)
    db.commit()
    return {"customers": customers, "bank": bank}


@pytest.fixture
def operator(client, world):
    return login_headers(client, "operator")


def define(client, headers, kind: str, definition: dict, *, name: str = "测试触发器", status: str = "active",
           **extra) -> dict:
    r = client.post("/api/triggers", json={"name": name, "kind": kind, "definition": definition, "status": status,
                                           **extra}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture
def runner(engine):
    return TriggerRunner(engine, poll_seconds=0.05, settle_seconds=2.0)


def firings(db, trigger_id: int | None = None) -> list[TriggerFiring]:
    db.rollback()
    stmt = select(TriggerFiring).order_by(TriggerFiring.id)
    if trigger_id is not None:
        stmt = stmt.where(TriggerFiring.trigger_id == trigger_id)
    return list(db.scalars(stmt))


def fired_for(db, trigger_id: int) -> list[int]:
    return sorted(f.customer_id for f in firings(db, trigger_id))


def ago(**kwargs) -> datetime:
    return datetime.now(UTC) - timedelta(**kwargs)
