"""Shared set-up for event tests: the bank, an app source with a known write key, and helpers."""

from __future__ import annotations

import base64
import socket
import threading
import time

import pytest
import uvicorn

from omniloop.core.audit import SYSTEM
from omniloop.events import service
from omniloop.events.schemas import EventSourceCreate
from tests.factories import create_bank, create_customer

APP_KEY = "test-app-write-key"
PARTNER_KEY = "test-partner-write-key"


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


@pytest.fixture
def bank(db):
    return create_bank(db)


@pytest.fixture
def world(db, bank):
    """Customers: ``a1`` (sub_a, rm_a), ``a2`` (sub_a, rm_a2), ``b1`` (sub_b, rm_b); an app source and a
    partner source scoped to branch A."""
    users = bank.users
    customers = {
        "a1": create_customer(db, org=bank.sub_a, rm=users["rm_a"]),
        "a2": create_customer(db, org=bank.sub_a, rm=users["rm_a2"]),
        "b1": create_customer(db, org=bank.sub_b, rm=users["rm_b"]),
    }
    app_source, _ = service.create_source(session=db, data=EventSourceCreate(name="手机银行", kind="app",
                                                                            org_id=bank.head.id),
                                          actor=SYSTEM, root=None, write_key=APP_KEY)
    partner, _ = service.create_source(session=db, data=EventSourceCreate(name="合作方活动平台", kind="partner",
                                                                         org_id=bank.branch_a.id),
                                       actor=SYSTEM, root=None, write_key=PARTNER_KEY)
    db.commit()
    return {"customers": customers, "app": app_source, "partner": partner, "bank": bank}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_server(app):
    """The test app served by uvicorn on a free port in a thread (real HTTP for the SDKs)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
