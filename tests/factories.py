"""Plain factory functions for tests: a small bank with a head office, branches, users and customers."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session

from omniloop.core.audit import SYSTEM
from omniloop.customers.models import Customer
from omniloop.org import service as org_service
from omniloop.org.models import Org, User
from omniloop.org.roles import Role
from omniloop.org.schemas import OrgCreate, UserCreate

PASSWORD = "Passw0rd!"
_seq = itertools.count(1)


def create_org(session: Session, *, level: str = "head_office", parent: Org | None = None, name: str | None = None,
               code: str | None = None) -> Org:
    n = next(_seq)
    return org_service.create_org(
        session=session, actor=SYSTEM,
        data=OrgCreate(code=code or f"ORG{n}", name=name or f"机构{n}", level=level,
                       parent_id=parent.id if parent else None),
    )


def create_user(session: Session, *, org: Org, role: Role | str = Role.admin, username: str | None = None,
                password: str = PASSWORD) -> User:
    n = next(_seq)
    return org_service.create_user(
        session=session, actor=SYSTEM,
        data=UserCreate(username=username or f"user{n}", display_name=f"用户{n}", org_id=org.id, role=Role(role),
                        password=password),
    )


def create_customer(session: Session, *, org: Org, rm: User | None = None, **fields) -> Customer:
    n = next(_seq)
    values = dict(
        customer_no=f"C{n:09d}", name="张三丰", gender="M", birth_date=date(1980, 5, 17), phone="13812345678",
        id_number="110101198005170011", risk_level="R3", segment="retail", aum_fen=12_345_600, deposit_fen=12_345_600,
        first_account_date=date(2015, 3, 1),
    )
    values.update(fields)
    customer = Customer(org_id=org.id, rm_id=rm.id if rm else None, **values)
    session.add(customer)
    session.flush()
    return customer


@dataclass
class Bank:
    """Head office → two branches → one sub-branch each, with a user of each role where it matters."""

    head: Org
    branch_a: Org
    branch_b: Org
    sub_a: Org
    sub_b: Org
    users: dict[str, User] = field(default_factory=dict)


def create_bank(session: Session) -> Bank:
    head = create_org(session, name="总行")
    branch_a = create_org(session, level="branch", parent=head, name="杭州分行")
    branch_b = create_org(session, level="branch", parent=head, name="宁波分行")
    sub_a = create_org(session, level="sub_branch", parent=branch_a, name="西湖支行")
    sub_b = create_org(session, level="sub_branch", parent=branch_b, name="海曙支行")
    bank = Bank(head, branch_a, branch_b, sub_a, sub_b)
    bank.users = {
        "admin": create_user(session, org=head, role=Role.admin, username="admin"),
        "operator": create_user(session, org=head, role=Role.operator, username="operator"),
        "manager_a": create_user(session, org=branch_a, role=Role.branch_manager, username="manager_a"),
        "rm_a": create_user(session, org=sub_a, role=Role.rm, username="rm_a"),
        "rm_a2": create_user(session, org=sub_a, role=Role.rm, username="rm_a2"),
        "rm_b": create_user(session, org=sub_b, role=Role.rm, username="rm_b"),
        "approver": create_user(session, org=head, role=Role.approver, username="approver"),
    }
    session.commit()
    return bank


def login_headers(client, username: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}
