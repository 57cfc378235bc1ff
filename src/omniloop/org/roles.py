"""Roles (角色), what each may do, and how far each sees into the customer base.

Kept in code rather than a table: a role's permissions are part of the platform's security design and
change with a release, reviewed like code.
"""

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    admin = "admin"  # 平台管理员
    operator = "operator"  # 总行营销运营
    branch_manager = "branch_manager"  # 分/支行管理者
    rm = "rm"  # 客户经理/理财经理
    approver = "approver"  # 会签人
    analyst = "analyst"  # 数据分析师


class Permission(StrEnum):
    customers_read = "customers.read"
    customers_write = "customers.write"
    customers_pii = "customers.pii"  # see name, phone and ID number unmasked
    orgs_read = "orgs.read"
    orgs_manage = "orgs.manage"
    users_manage = "users.manage"
    audit_read = "audit.read"
    jobs_read = "jobs.read"
    jobs_manage = "jobs.manage"
    tags_read = "tags.read"
    tags_manage = "tags.manage"  # define, edit and run tags; edit lifecycle rules
    tags_export = "tags.export"
    audiences_read = "audiences.read"
    audiences_manage = "audiences.manage"  # save audiences, upload lists, take snapshots
    audiences_export = "audiences.export"
    events_read = "events.read"  # event stream, schema browser, customer timelines
    sources_manage = "sources.manage"  # event sources and their write keys
    triggers_manage = "triggers.manage"
    plans_read = "plans.read"
    plans_manage = "plans.manage"  # raise needs, write plans, submit for countersign
    approvals_decide = "approvals.decide"  # approve / reject / comment in a countersign
    campaigns_read = "campaigns.read"
    campaigns_manage = "campaigns.manage"  # configure, launch, pause, resume, stop campaigns
    elements_manage = "elements.manage"  # benefits, message templates, success rules, blocked words
    contacts_manage = "contacts.manage"  # contact policy rules, suppression lists, global holdout
    consents_manage = "consents.manage"  # record a customer's consent or opt-out (e.g. at the counter)
    channels_read = "channels.read"  # channel list, capacity, usage and health
    channels_manage = "channels.manage"  # channel provider settings and secrets, capacity, cost; test sends
    placements_manage = "placements.manage"  # in-app placement slots and creatives
    evaluation_read = "evaluation.read"  # campaign monitoring and evaluation reports
    evaluation_manage = "evaluation.manage"  # run evaluations, declare experiment winners
    tasks_work = "tasks.work"  # see and complete one's own RM tasks (客户经理任务)


@dataclass(frozen=True)
class RoleInfo:
    name_zh: str
    name_en: str
    permissions: frozenset[Permission]
    assigned_customers_only: bool = False  # an RM sees the customers assigned to them (管户), not the whole org


_P = Permission
ROLES: dict[Role, RoleInfo] = {
    Role.admin: RoleInfo("平台管理员", "Platform admin", frozenset(Permission)),
    Role.operator: RoleInfo(
        "总行营销运营", "Head-office marketing operator",
        frozenset({_P.customers_read, _P.customers_write, _P.orgs_read, _P.jobs_read,
                   _P.tags_read, _P.tags_manage, _P.tags_export, _P.audiences_read, _P.audiences_manage,
                   _P.audiences_export, _P.events_read, _P.sources_manage, _P.triggers_manage,
                   _P.plans_read, _P.plans_manage, _P.campaigns_read, _P.campaigns_manage, _P.elements_manage,
                   _P.contacts_manage, _P.consents_manage, _P.channels_read, _P.channels_manage,
                   _P.placements_manage, _P.evaluation_read, _P.evaluation_manage}),
    ),
    Role.branch_manager: RoleInfo(
        "分支行管理者", "Branch manager",
        frozenset({_P.customers_read, _P.orgs_read, _P.jobs_read, _P.tags_read, _P.audiences_read,
                   _P.audiences_manage, _P.audiences_export, _P.events_read, _P.plans_read,
                   _P.approvals_decide, _P.campaigns_read, _P.consents_manage, _P.channels_read,
                   _P.evaluation_read, _P.tasks_work}),
    ),
    Role.rm: RoleInfo(
        "客户经理", "Relationship manager",
        frozenset({_P.customers_read, _P.orgs_read, _P.tags_read, _P.events_read, _P.consents_manage,
                   _P.tasks_work}),
        assigned_customers_only=True,
    ),
    Role.approver: RoleInfo("会签人", "Approver",
                            frozenset({_P.orgs_read, _P.plans_read, _P.approvals_decide, _P.campaigns_read})),
    Role.analyst: RoleInfo(
        "数据分析师", "Data analyst",
        frozenset({_P.customers_read, _P.orgs_read, _P.jobs_read, _P.tags_read, _P.tags_export,
                   _P.audiences_read, _P.audiences_export, _P.events_read, _P.plans_read, _P.campaigns_read,
                   _P.channels_read, _P.evaluation_read})
    ),
}


def role_info(role: str) -> RoleInfo:
    return ROLES[Role(role)]


def has_permission(role: str, permission: Permission) -> bool:
    return permission in role_info(role).permissions
