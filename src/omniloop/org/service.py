"""Org tree, users and login (no HTTP here)."""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from sqlalchemy import Select, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from omniloop.core import audit
from omniloop.core.audit import Actor
from omniloop.core.db import utcnow
from omniloop.core.errors import Conflict, Forbidden, NotFound, OmniloopError, ValidationFailed
from omniloop.core.security import hash_password, new_token, token_digest, verify_password
from omniloop.org.models import LoginSession, Org, User
from omniloop.org.schemas import OrgCreate, OrgUpdate, UserCreate, UserUpdate
from omniloop.settings import Settings


class LoginFailed(OmniloopError):
    code, status, message_zh, message_en = "login_failed", 401, "用户名或密码错误", "Wrong username or password"


class AccountLocked(OmniloopError):
    code, status = "account_locked", 423
    message_zh, message_en = "登录失败次数过多，账号已暂时锁定", "Too many failed logins; account temporarily locked"


# ---- orgs -------------------------------------------------------------------------------------------

def subtree_condition(column_path, org_path: str):
    """SQL condition: the row's org path lies in the subtree rooted at ``org_path``."""
    return column_path.like(org_path + "%")


def assert_owned_in_subtree(session: Session, *, owner_org_id: int, org_path: str, code: str, what_zh: str,
                            what_en: str) -> None:
    """403 ``code`` unless the object's owner org lies in the caller's subtree (``org_path``).

    Shared catalog objects (benefits, templates, success rules) are visible down the org path but editable
    only by the owning office and the offices above it.
    """
    path = session.scalar(select(Org.path).where(Org.id == owner_org_id)) or ""
    if not path.startswith(org_path):
        raise Forbidden(f"该{what_zh}由上级机构维护，您只能查看",
                        f"This {what_en} belongs to a parent office; read-only for you", code=code)


def owner_org_for_create(session: Session, *, requested: int | None, caller_org: Org) -> int:
    """The owner org of a new catalog object: the requested org if it lies in the caller's subtree, else
    422 ``invalid_owner_org``; the caller's own org when none is requested."""
    if requested is None:
        return caller_org.id
    path = session.scalar(select(Org.path).where(Org.id == requested)) or ""
    if not path or not path.startswith(caller_org.path):
        raise ValidationFailed("所属机构不存在或不在您的管辖范围内", "Owner org not found or outside your scope",
                               code="invalid_owner_org", details=[{"field": "owner_org_id"}])
    return requested


def in_subtree(org: Org, root: Org) -> bool:
    return org.path.startswith(root.path)


def get_org(*, session: Session, org_id: int) -> Org:
    org = session.get(Org, org_id)
    if org is None:
        raise NotFound("机构不存在", "Org not found", details={"org_id": org_id})
    return org


def get_visible_org(*, session: Session, org_id: int, root: Org) -> Org:
    org = get_org(session=session, org_id=org_id)
    if not in_subtree(org, root):
        # Outside the caller's subtree is reported as missing, so ids of other branches leak nothing.
        raise NotFound("机构不存在", "Org not found", details={"org_id": org_id})
    return org


def list_orgs(*, session: Session, root: Org) -> list[Org]:
    return list(session.scalars(select(Org).where(subtree_condition(Org.path, root.path)).order_by(Org.path)))


def org_tree(orgs: list[Org], root_id: int) -> dict:
    nodes = {o.id: {"id": o.id, "code": o.code, "name": o.name, "name_en": o.name_en, "level": o.level,
                    "parent_id": o.parent_id, "children": []} for o in orgs}
    for o in orgs:
        if o.parent_id in nodes and o.id != root_id:
            nodes[o.parent_id]["children"].append(nodes[o.id])
    return nodes[root_id]


_LEVEL_ORDER = {"head_office": 0, "branch": 1, "sub_branch": 2}


def create_org(*, session: Session, data: OrgCreate, actor: Actor, root: Org | None = None) -> Org:
    parent = None
    if data.level == "head_office":
        if data.parent_id is not None:
            raise ValidationFailed("总行不能有上级机构", "A head office has no parent", details={"field": "parent_id"})
        if root is not None and root.parent_id is not None:
            raise Forbidden()
    else:
        if data.parent_id is None:
            raise ValidationFailed("请选择上级机构", "Parent org is required", details={"field": "parent_id"})
        parent = get_org(session=session, org_id=data.parent_id) if root is None else get_visible_org(
            session=session, org_id=data.parent_id, root=root
        )
        if _LEVEL_ORDER[data.level] < _LEVEL_ORDER[parent.level] or (
            data.level == "branch" and parent.level == "branch"
        ):
            raise ValidationFailed(
                "机构层级与上级机构不匹配", "Org level does not fit under the parent",
                details={"field": "level", "parent_level": parent.level},
            )
    if session.scalar(select(Org.id).where(Org.code == data.code)) is not None:
        raise Conflict("机构代码已存在", "Org code already exists", details={"field": "code"})
    org = Org(code=data.code, name=data.name, name_en=data.name_en, level=data.level, parent_id=data.parent_id)
    session.add(org)
    session.flush()
    org.path = (parent.path if parent else "/") + f"{org.id}/"
    audit.record(session, actor=actor, action="create", entity_type="org", entity_id=org.id, after=audit.snapshot(org))
    return org


def update_org(*, session: Session, org: Org, data: OrgUpdate, actor: Actor) -> Org:
    before = audit.snapshot(org)
    for key, value in data.model_dump(exclude_unset=True).items():
        if key == "name" and value is None:
            continue
        setattr(org, key, value)
    session.flush()
    audit.record(session, actor=actor, action="update", entity_type="org", entity_id=org.id,
                 before=before, after=audit.snapshot(org))
    return org


# ---- users ------------------------------------------------------------------------------------------

def users_statement(*, root: Org, q: str | None = None, role: str | None = None, org_id: int | None = None) -> Select:
    stmt = select(User).join(Org, Org.id == User.org_id).where(subtree_condition(Org.path, root.path))
    if q:
        like = f"%{q}%"
        stmt = stmt.where(or_(User.username.ilike(like), User.display_name.ilike(like)))
    if role:
        stmt = stmt.where(User.role == role)
    if org_id is not None:
        stmt = stmt.where(User.org_id == org_id)
    return stmt.order_by(User.id)


def get_visible_user(*, session: Session, user_id: int, root: Org) -> User:
    user = session.scalar(users_statement(root=root).where(User.id == user_id))
    if user is None:
        raise NotFound("用户不存在", "User not found", details={"user_id": user_id})
    return user


def create_user(*, session: Session, data: UserCreate, actor: Actor, root: Org | None = None) -> User:
    if root is not None:
        get_visible_org(session=session, org_id=data.org_id, root=root)
    else:
        get_org(session=session, org_id=data.org_id)
    if session.scalar(select(User.id).where(User.username == data.username)) is not None:
        raise Conflict("用户名已存在", "Username already exists", details={"field": "username"})
    user = User(
        username=data.username, display_name=data.display_name, org_id=data.org_id, role=data.role.value,
        password_hash=hash_password(data.password), language=data.language,
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent create of the same username
        raise Conflict("用户名已存在", "Username already exists", details={"field": "username"}) from exc
    audit.record(session, actor=actor, action="create", entity_type="user", entity_id=user.id,
                 after=audit.snapshot(user))
    return user


def update_user(*, session: Session, user: User, data: UserUpdate, actor: Actor, root: Org) -> User:
    before = audit.snapshot(user)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "org_id" in changes:
        get_visible_org(session=session, org_id=changes["org_id"], root=root)
    if actor.user_id == user.id and (changes.get("is_active") is False or changes.get("role", user.role) != user.role):
        raise ValidationFailed("不能停用自己的账号或修改自己的角色", "You cannot disable yourself or change your own role")
    for key, value in changes.items():
        setattr(user, key, value.value if hasattr(value, "value") else value)
    if changes.get("is_active") is False:
        revoke_sessions(session=session, user_id=user.id)
    session.flush()
    audit.record(session, actor=actor, action="update", entity_type="user", entity_id=user.id,
                 before=before, after=audit.snapshot(user))
    return user


def set_password(*, session: Session, user: User, password: str, actor: Actor) -> None:
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    revoke_sessions(session=session, user_id=user.id)
    audit.record(session, actor=actor, action="reset_password", entity_type="user", entity_id=user.id)


def unlock_user(*, session: Session, user: User, actor: Actor) -> None:
    before = audit.snapshot(user)
    user.failed_logins = 0
    user.locked_until = None
    session.flush()
    audit.record(session, actor=actor, action="unlock", entity_type="user", entity_id=user.id,
                 before=before, after=audit.snapshot(user))


def revoke_sessions(*, session: Session, user_id: int) -> None:
    now = utcnow()
    for login in session.scalars(
        select(LoginSession).where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
    ):
        login.revoked_at = now


@cache
def _dummy_hash() -> str:
    return hash_password("not-a-real-password")


# ---- login ------------------------------------------------------------------------------------------

def login(*, session: Session, username: str, password: str, settings: Settings, ip: str | None) -> tuple[str, LoginSession, User]:
    """Check the password; lock the account for a while after too many failures. Returns the new token."""
    user = session.scalar(select(User).where(User.username == username))
    now = utcnow()
    if user is None:
        # Spend the same time as a real check so response times do not reveal which usernames exist.
        verify_password(_dummy_hash(), password)
        audit.record(session, actor=Actor(None, username[:64]), action="login_failed", entity_type="user")
        session.commit()
        raise LoginFailed()
    if user.locked_until is not None and user.locked_until > now:
        raise AccountLocked(details={"locked_until": user.locked_until.isoformat()})
    if not user.is_active or not verify_password(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= settings.login_max_failures:
            user.locked_until = now + timedelta(minutes=settings.login_lockout_minutes)
            user.failed_logins = 0
            audit.record(session, actor=Actor(user.id, user.username), action="locked", entity_type="user",
                         entity_id=user.id)
        audit.record(session, actor=Actor(user.id, user.username), action="login_failed", entity_type="user",
                     entity_id=user.id)
        session.commit()
        raise LoginFailed()
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    token = new_token()
    login_session = LoginSession(
        token_hash=token_digest(token), user_id=user.id, ip=ip,
        expires_at=now + timedelta(minutes=settings.token_ttl_minutes),
    )
    session.add(login_session)
    audit.record(session, actor=Actor(user.id, user.username), action="login", entity_type="user", entity_id=user.id)
    session.commit()
    return token, login_session, user


def logout(*, session: Session, token_hash: str, actor: Actor) -> None:
    login_session = session.scalar(select(LoginSession).where(LoginSession.token_hash == token_hash))
    if login_session is not None and login_session.revoked_at is None:
        login_session.revoked_at = utcnow()
        audit.record(session, actor=actor, action="logout", entity_type="user", entity_id=actor.user_id)
        session.commit()
