"""Who is calling: bearer-token authentication and permission checks for routes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from omniloop.core.audit import Actor
from omniloop.core.db import utcnow
from omniloop.core.deps import SessionDep
from omniloop.core.errors import Forbidden, Unauthenticated
from omniloop.core.security import token_digest
from omniloop.org.models import LoginSession, Org, User
from omniloop.org.roles import Permission, RoleInfo, role_info


@dataclass(frozen=True)
class Principal:
    """The authenticated user with what the scoping and masking rules need."""

    user: User
    org: Org
    token_hash: str

    @property
    def role(self) -> RoleInfo:
        return role_info(self.user.role)

    @property
    def actor(self) -> Actor:
        return Actor(self.user.id, self.user.username)

    def can(self, permission: Permission) -> bool:
        return permission in self.role.permissions


_bearer = HTTPBearer(auto_error=False, description="Token from POST /api/auth/login")


def current_principal(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise Unauthenticated()
    digest = token_digest(credentials.credentials)
    row = session.execute(
        select(LoginSession, User, Org)
        .join(User, User.id == LoginSession.user_id)
        .join(Org, Org.id == User.org_id)
        .where(LoginSession.token_hash == digest)
    ).first()
    now = utcnow()
    if row is None:
        raise Unauthenticated("登录凭证无效", "Invalid token", code="invalid_token")
    login, user, org = row
    if login.revoked_at is not None or login.expires_at <= now:
        raise Unauthenticated("登录已过期，请重新登录", "Session expired, please sign in again", code="session_expired")
    if not user.is_active:
        raise Unauthenticated("账号已停用", "Account disabled", code="account_disabled")
    # Sliding expiry: an active session stays alive; an idle one ends after the configured TTL.
    ttl = timedelta(minutes=request.app.state.settings.token_ttl_minutes)
    if login.expires_at - now < ttl / 2:
        login.expires_at = now + ttl
        session.commit()
    return Principal(user=user, org=org, token_hash=digest)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(permission: Permission):
    """Route dependency: the caller must hold ``permission``."""

    def check(principal: CurrentPrincipal) -> Principal:
        if not principal.can(permission):
            raise Forbidden(details={"permission": permission.value})
        return principal

    return Depends(check)
