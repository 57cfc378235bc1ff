"""Request and response models for orgs, users and login."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from omniloop.core.ids import Id
from omniloop.org.roles import Role

OrgLevel = Literal["head_office", "branch", "sub_branch"]


class OrgRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    name_en: str | None
    level: OrgLevel
    parent_id: int | None


class OrgNode(OrgRead):
    children: list[OrgNode] = []


class OrgCreate(BaseModel):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    name: str = Field(min_length=1, max_length=100)
    name_en: str | None = Field(default=None, max_length=200)
    level: OrgLevel
    parent_id: Id | None = None


class OrgUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    name_en: str | None = Field(default=None, max_length=200)


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    org_id: int
    role: Role
    is_active: bool
    locked_until: datetime | None
    last_login_at: datetime | None
    language: str
    created_at: datetime


class UserPage(BaseModel):
    items: list[UserRead]
    total: int
    page: int
    page_size: int


Password = Field(min_length=8, max_length=128)


class UserCreate(BaseModel):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    display_name: str = Field(min_length=1, max_length=100)
    org_id: Id
    role: Role
    password: str = Password
    language: Literal["zh-CN", "en"] = "zh-CN"


class UserUpdate(BaseModel):
    display_name: str | None = Field(default=None, min_length=1, max_length=100)
    org_id: Id | None = None
    role: Role | None = None
    is_active: bool | None = None
    language: Literal["zh-CN", "en"] | None = None


class PasswordReset(BaseModel):
    password: str = Password


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=128)


class RoleRead(BaseModel):
    code: Role
    name_zh: str
    name_en: str
    permissions: list[str]


class Me(BaseModel):
    user: UserRead
    org: OrgRead
    role: RoleRead


class LoginResponse(BaseModel):
    token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime
    me: Me
