"""Every operation in the OpenAPI document, fuzzed by Schemathesis (signed in as admin, and anonymous).

The properties: no response is a 5xx, every status code is declared for its operation, the content type
and the body match the declared response, and documented headers are present. Generation covers valid
and invalid inputs (``mode = all``) with a fixed seed and a bounded number of examples per operation, so
that a failure reproduces and the module stays within a couple of minutes.

A second, plain test sends values the fuzzer rarely draws (integers beyond 64 bits, text with a NUL byte)
to every integer and free-text input in the schema: the databases reject them with driver errors, which
must come back as 4xx, never as 500s.

Logout is not excluded from the signed-in run: when a request ends the admin's session (logout, own
password reset, ...), ``AdminSession`` restores the admin and signs in again before the next request.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.checks import CHECKS, load_all_checks
from sqlalchemy import create_engine, select

from omniloop.core.audit import SYSTEM
from omniloop.core.db import session_factory
from omniloop.core.security import token_digest
from omniloop.org import service as org_service
from omniloop.org.models import LoginSession, User
from omniloop.settings import Settings
from tests.factories import PASSWORD, Bank, create_bank, create_customer, login_headers

SEED = 20261123
# Examples per operation and generation mode (valid / invalid inputs) in the fuzzing phase; the examples
# and coverage phases add their own, schema-derived cases. OMNILOOP_FUZZ_EXAMPLES=200 for a deeper run.
MAX_EXAMPLES = int(os.environ.get("OMNILOOP_FUZZ_EXAMPLES", "15"))
# Without a token nearly every operation stops at authentication, so fewer examples find the same.
MAX_EXAMPLES_ANONYMOUS = max(1, MAX_EXAMPLES // 2)

load_all_checks()
CHECK_NAMES = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
]
CHECKS_TO_RUN = [CHECKS.get_one(name) for name in CHECK_NAMES]


def _config(max_examples: int) -> schemathesis.config.SchemathesisConfig:
    # No learning from responses (ids, tokens and timestamps differ between runs), a fixed seed and no
    # example database: the same cases every run, so a failure reproduces.
    no_feedback = {"extra-data-sources": {"responses": False}}
    return schemathesis.config.SchemathesisConfig.from_dict({
        "seed": SEED,
        # "all" includes function_scoped_fixture: the database persists across one operation's examples.
        "suppress-health-check": ["all"],
        "generation": {"mode": "all", "max-examples": max_examples, "deterministic": True, "database": "none"},
        "phases": {
            "examples": {"enabled": True, **no_feedback},
            "coverage": {"enabled": True, **no_feedback},
            "fuzzing": {"enabled": True, **no_feedback, "error-feedback": {"enabled": False}},
            "stateful": {"enabled": False},
        },
    })


@pytest.fixture
def bank(db) -> Bank:
    bank = create_bank(db)
    create_customer(db, org=bank.sub_a, rm=bank.users["rm_a"], name="李小龙")
    create_customer(db, org=bank.sub_b, rm=bank.users["rm_b"], name="赵六")
    db.commit()
    return bank


@dataclass
class AdminSession:
    """The admin's bearer token for the fuzzer, kept valid whatever the generated requests did.

    Fuzzed requests may legitimately end the admin's session: ``POST /api/auth/logout`` revokes the token,
    ``POST /api/users/{id}/password`` on the admin revokes all their sessions, ``PATCH /api/users/{id}`` may
    move the admin to a sub-branch (smaller data scope), and failed logins may lock the account. Each of
    those is correct behaviour, but it would silently turn the rest of the run into 401/404s. So after each
    call the admin's state is checked, restored through the service layer and a fresh token taken
    when needed. Nothing about the checked response is changed.
    """

    client: TestClient
    bank: Bank
    headers: dict[str, str]
    relogins: int = 0

    def ensure_valid(self) -> None:
        token = self.headers["Authorization"].removeprefix("Bearer ")
        factory = session_factory(self.client.app.state.engine)
        with factory() as session:
            admin = session.scalar(select(User).where(User.username == "admin"))
            login = session.scalar(select(LoginSession).where(LoginSession.token_hash == token_digest(token)))
            healthy = (
                admin.is_active
                and admin.org_id == self.bank.head.id
                and admin.role == "admin"
                and login is not None
                and login.revoked_at is None
            )
            if healthy:
                return
            admin.is_active = True
            admin.org_id = self.bank.head.id
            admin.role = "admin"
            org_service.set_password(session=session, user=admin, password=PASSWORD, actor=SYSTEM)
            session.commit()
        self.headers = login_headers(self.client, "admin")
        self.relogins += 1


@pytest.fixture
def admin_session(app, bank) -> AdminSession:
    client = TestClient(app)
    return AdminSession(client=client, bank=bank, headers=login_headers(client, "admin"))


def _schema_app():
    """An app used only to read the OpenAPI document at collection; requests go to the ``app`` fixture.

    (``schemathesis.pytest.from_fixture`` would load the schema from the fixture instead, but with
    pytest 9.2 it fails on ``Function._nodeid``; one test per operation is also clearer in reports.)
    """
    from omniloop.app import create_app

    home = Path(tempfile.gettempdir())
    settings = Settings(home=home, database_url="sqlite://", log_json=False, web_dist=home / "omniloop-no-console")
    return create_app(settings=settings, engine=create_engine("sqlite://"))


_SCHEMA_APP = _schema_app()
admin_schema = schemathesis.openapi.from_asgi("/openapi.json", _SCHEMA_APP, config=_config(MAX_EXAMPLES))
anonymous_schema = schemathesis.openapi.from_asgi("/openapi.json", _SCHEMA_APP,
                                                  config=_config(MAX_EXAMPLES_ANONYMOUS))


def _no_long_poll(case) -> None:
    """A valid long-poll ``wait`` is time, not input: answer at once (the fuzzer's read timeout is 10 s, and
    dozens of examples waiting would cost minutes). Out-of-range values are still sent and must be 422s."""
    wait = (case.query or {}).get("wait")
    if case.path == "/api/events/stream" and isinstance(wait, int | float) and 0 < wait <= 25:
        case.query["wait"] = 0


@admin_schema.parametrize()
def test_api_as_admin(case, app, admin_session):
    headers = dict(admin_session.headers)
    _no_long_poll(case)
    try:
        case.call_and_validate(app=app, headers=headers, checks=CHECKS_TO_RUN)
    finally:
        admin_session.ensure_valid()


@anonymous_schema.parametrize()
def test_api_anonymous(case, app, bank):
    _no_long_poll(case)
    case.call_and_validate(app=app, checks=CHECKS_TO_RUN)


# ---- boundary values the fuzzer rarely draws --------------------------------------------------------
#
# With a bounded number of examples, Hypothesis seldom produces an integer beyond 64 bits or a string
# with a NUL byte, yet both reach the database unchecked: SQLite raises OverflowError and PostgreSQL
# "bigint out of range" / "text fields cannot contain NUL bytes" - a 500 either way. So every integer and
# free-text parameter and top-level body field in the schema is also sent those values once, as admin.

BEYOND_BIGINT = 2**63
NUL_TEXT = "a\x00b"
_SAMPLE_TEXT = "Abc12345"  # matches the id-like patterns (codes, usernames) and 8-char minimums


def _resolve(doc: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _variants(doc: dict, schema: dict) -> list[dict]:
    """The non-null alternatives of a (possibly optional) schema."""
    schema = _resolve(doc, schema)
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        return [v for option in options for v in _variants(doc, option)]
    return [] if schema.get("type") == "null" else [schema]


def _sample(doc: dict, schema: dict, *, optional: bool = False):
    """A valid value for a simple schema (enough to get a request past validation); with ``optional`` an
    object gets its optional properties too."""
    variants = _variants(doc, schema)
    if not variants:
        return None
    schema = variants[0]
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][-1]  # e.g. OrgCreate.level=sub_branch, so parent_id gets looked up
    kind = schema.get("type")
    if kind == "object":
        return {name: _sample(doc, prop) for name, prop in schema.get("properties", {}).items()
                if optional or name in schema.get("required", [])}
    if kind == "array":  # as few items as the schema allows
        return [_sample(doc, schema.get("items", {})) for _ in range(schema.get("minItems", 0))]
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        return max(1, schema.get("minimum", 1))
    return {"date-time": "2026-01-01T00:00:00Z", "date": "2026-01-01"}.get(schema.get("format"), _SAMPLE_TEXT)


def _probes(doc: dict, schema: dict) -> list[tuple[str, object]]:
    probes = []
    for variant in _variants(doc, schema):
        if variant.get("type") == "integer":  # declared bounds too: they must stay within 64 bits
            probes.append(("beyond-bigint", BEYOND_BIGINT))
        if variant.get("type") == "string" and "enum" not in variant and "format" not in variant \
                and "pattern" not in variant:
            probes.append(("nul-byte", NUL_TEXT))
    return probes


def _boundary_cases() -> list:
    doc = json.loads(json.dumps(_SCHEMA_APP.openapi()))
    cases = []
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            params = operation.get("parameters", [])
            body_schema = (operation.get("requestBody", {}).get("content", {})
                           .get("application/json", {}).get("schema"))
            # Request bodies to try, in order, until one is valid apart from the probed field.
            bodies = [_sample(doc, body_schema), _sample(doc, body_schema, optional=True)] if body_schema else [None]
            base_path = {p["name"]: _sample(doc, p["schema"]) for p in params if p["in"] == "path"}
            targets = [(p["in"], p["name"], p["schema"]) for p in params if p["in"] in ("path", "query")]
            if body_schema:
                props = _resolve(doc, _variants(doc, body_schema)[0]).get("properties", {})
                targets += [("body", name, prop) for name, prop in props.items()]
            for where, name, schema in targets:
                for label, value in _probes(doc, schema):
                    cases.append(pytest.param(method.upper(), path, base_path, bodies, where, name, value,
                                              id=f"{method.upper()} {path} {where}:{name}={label}"))
    return cases


@pytest.mark.parametrize("method,path,path_params,bodies,where,name,value", _boundary_cases())
def test_boundary_values_are_rejected_not_500(client, bank, method, path, path_params, bodies, where, name,
                                              value):
    headers = login_headers(client, "admin")
    path_params = dict(path_params)
    query = {}
    if where == "path":
        path_params[name] = value
    elif where == "query":
        query[name] = value
    url = path.format(**{k: quote(str(v), safe="") for k, v in path_params.items()})
    for body in bodies:
        if where == "body":
            body = {**body, name: value}
        # The TestClient re-raises a server exception: its traceback is the failure report.
        response = client.request(method, url, params=query, json=body, headers=headers)
        assert response.status_code < 500, response.text
        if response.status_code != 422 or name in json.dumps(response.json()["error"]["details"]):
            break  # the request got as far as the probed value
    else:
        pytest.fail(f"no request body made it past validation to the probed field {name}: {response.text}")
    if response.status_code >= 400:
        assert "error" in response.json(), response.text
