"""HTTP routes: login, orgs, users, roles."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from omniloop.core.deps import SessionDep
from omniloop.core.ids import IdPath, IdQuery
from omniloop.core.pagination import PageDep, paginate
from omniloop.org import service
from omniloop.org.auth import CurrentPrincipal, Principal, require
from omniloop.org.roles import ROLES, Permission, Role
from omniloop.org.schemas import (
    LoginRequest,
    LoginResponse,
    Me,
    OrgCreate,
    OrgNode,
    OrgRead,
    OrgUpdate,
    PasswordReset,
    RoleRead,
    UserCreate,
    UserPage,
    UserRead,
    UserUpdate,
)

router = APIRouter(prefix="/api", tags=["org"])

ERR = {401: {"description": "Not signed in"}, 403: {"description": "Permission denied"}}
ERR_404 = {**ERR, 404: {"description": "Not found"}}


def _role_read(role: str) -> RoleRead:
    info = ROLES[Role(role)]
    return RoleRead(code=Role(role), name_zh=info.name_zh, name_en=info.name_en,
                    permissions=sorted(p.value for p in info.permissions))


def _me(principal: Principal) -> Me:
    return Me(user=UserRead.model_validate(principal.user), org=OrgRead.model_validate(principal.org),
              role=_role_read(principal.user.role))


@router.post("/auth/login", response_model=LoginResponse, tags=["auth"],
             responses={401: {"description": "Wrong credentials"}, 423: {"description": "Locked"}})
def login(body: LoginRequest, request: Request, session: SessionDep) -> LoginResponse:
    ip = request.client.host if request.client else None
    token, login_session, user = service.login(
        session=session, username=body.username, password=body.password, settings=request.app.state.settings, ip=ip
    )
    org = service.get_org(session=session, org_id=user.org_id)
    principal = Principal(user=user, org=org, token_hash=login_session.token_hash)
    return LoginResponse(token=token, expires_at=login_session.expires_at, me=_me(principal))


@router.post("/auth/logout", status_code=204, tags=["auth"], responses=ERR)
def logout(principal: CurrentPrincipal, session: SessionDep) -> Response:
    service.logout(session=session, token_hash=principal.token_hash, actor=principal.actor)
    return Response(status_code=204)


@router.get("/auth/me", response_model=Me, tags=["auth"], responses=ERR)
def me(principal: CurrentPrincipal) -> Me:
    return _me(principal)


@router.get("/roles", response_model=list[RoleRead], responses=ERR)
def roles(principal: CurrentPrincipal) -> list[RoleRead]:
    return [_role_read(r.value) for r in Role]


@router.get("/orgs", response_model=list[OrgRead], responses=ERR)
def list_orgs(session: SessionDep, principal: Principal = require(Permission.orgs_read)) -> list:
    return service.list_orgs(session=session, root=principal.org)


@router.get("/orgs/tree", response_model=OrgNode, responses=ERR)
def org_tree(session: SessionDep, principal: Principal = require(Permission.orgs_read)) -> dict:
    return service.org_tree(service.list_orgs(session=session, root=principal.org), principal.org.id)


@router.get("/orgs/{org_id}", response_model=OrgRead, responses=ERR_404)
def get_org(org_id: IdPath, session: SessionDep, principal: Principal = require(Permission.orgs_read)):
    return service.get_visible_org(session=session, org_id=org_id, root=principal.org)


@router.post("/orgs", response_model=OrgRead, status_code=201, responses={**ERR_404, 409: {}, 422: {}})
def create_org(body: OrgCreate, session: SessionDep, principal: Principal = require(Permission.orgs_manage)):
    org = service.create_org(session=session, data=body, actor=principal.actor, root=principal.org)
    session.commit()
    return org


@router.patch("/orgs/{org_id}", response_model=OrgRead, responses=ERR_404)
def update_org(org_id: IdPath, body: OrgUpdate, session: SessionDep,
               principal: Principal = require(Permission.orgs_manage)):
    org = service.get_visible_org(session=session, org_id=org_id, root=principal.org)
    service.update_org(session=session, org=org, data=body, actor=principal.actor)
    session.commit()
    return org


@router.get("/users", response_model=UserPage, responses=ERR)
def list_users(
    session: SessionDep, page: PageDep,
    q: Annotated[str | None, Query(max_length=64, description="username or display name contains")] = None,
    role: Role | None = None,
    org_id: IdQuery = None,
    principal: Principal = require(Permission.users_manage),
) -> UserPage:
    stmt = service.users_statement(root=principal.org, q=q, role=role.value if role else None, org_id=org_id)
    items, total = paginate(session, stmt, page)
    return UserPage(items=items, total=total, page=page.page, page_size=page.page_size)


@router.post("/users", response_model=UserRead, status_code=201, responses={**ERR_404, 409: {}})
def create_user(body: UserCreate, session: SessionDep, principal: Principal = require(Permission.users_manage)):
    user = service.create_user(session=session, data=body, actor=principal.actor, root=principal.org)
    session.commit()
    return user


@router.get("/users/{user_id}", response_model=UserRead, responses=ERR_404)
def get_user(user_id: IdPath, session: SessionDep, principal: Principal = require(Permission.users_manage)):
    return service.get_visible_user(session=session, user_id=user_id, root=principal.org)


@router.patch("/users/{user_id}", response_model=UserRead, responses={**ERR_404, 422: {}})
def update_user(user_id: IdPath, body: UserUpdate, session: SessionDep,
                principal: Principal = require(Permission.users_manage)):
    user = service.get_visible_user(session=session, user_id=user_id, root=principal.org)
    service.update_user(session=session, user=user, data=body, actor=principal.actor, root=principal.org)
    session.commit()
    return user


@router.post("/users/{user_id}/password", status_code=204, responses=ERR_404)
def reset_password(user_id: IdPath, body: PasswordReset, session: SessionDep,
                   principal: Principal = require(Permission.users_manage)) -> Response:
    user = service.get_visible_user(session=session, user_id=user_id, root=principal.org)
    service.set_password(session=session, user=user, password=body.password, actor=principal.actor)
    session.commit()
    return Response(status_code=204)


@router.post("/users/{user_id}/unlock", response_model=UserRead, responses=ERR_404)
def unlock_user(user_id: IdPath, session: SessionDep, principal: Principal = require(Permission.users_manage)):
    user = service.get_visible_user(session=session, user_id=user_id, root=principal.org)
    service.unlock_user(session=session, user=user, actor=principal.actor)
    session.commit()
    return user
