"""The countersign state machine (会签). No HTTP.

Instance: in_progress → approved | rejected | withdrawn. Step: waiting → pending → approved | rejected |
cancelled. Every transition of a step is one conditional UPDATE on its ``version``: of two approvers
deciding at once exactly one wins, the other gets 409 ``approval_conflict`` and nothing of theirs is kept.
A plan's status follows its latest instance through ``plans.service.mark_*``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from omniloop.approvals.models import (
    ApprovalAssignee,
    ApprovalEvent,
    ApprovalInstance,
    ApprovalStep,
    Delegation,
    WorkflowTemplate,
)
from omniloop.approvals.schemas import (
    ApprovalEventRead,
    AssigneeRead,
    DelegationCreate,
    DelegationRead,
    InboxItem,
    InboxPage,
    InstanceRead,
    PlanApprovals,
    StepRead,
    TemplateCreate,
    TemplateStep,
    TemplateUpdate,
    UserRef,
)
from omniloop.campaigns import service as campaign_service
from omniloop.core import audit
from omniloop.core.audit import Actor
from omniloop.core.db import utcnow
from omniloop.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from omniloop.core.pagination import PageParams
from omniloop.notifications.service import notify
from omniloop.org import service as org_service
from omniloop.org.auth import Principal
from omniloop.org.models import Org, User
from omniloop.org.roles import Permission, has_permission
from omniloop.plans import service as plan_service
from omniloop.plans.models import Plan, PlanDocument


class ApprovalConflict(Conflict):
    code = "approval_conflict"
    message_zh = "该审批环节刚刚已被他人处理，请刷新后重试"
    message_en = "This approval step was just changed by someone else; refresh and try again"


class NotAnApprover(Forbidden):
    code = "not_an_approver"
    message_zh = "您不是该审批环节的审批人"
    message_en = "You are not an approver of this step"


# ---- templates ------------------------------------------------------------------------------------------

def _validate_steps(session: Session, steps: Sequence[TemplateStep]) -> None:
    for i, step in enumerate(steps):
        for j, rule in enumerate(step.approvers):
            loc = ["body", "steps", i, "approvers", j]
            if not has_permission(rule.role.value, Permission.approvals_decide):
                raise ValidationFailed("该角色没有审批权限，不能作为审批人", "This role cannot approve",
                                       code="role_cannot_approve",
                                       details=[{"loc": [*loc, "role"], "msg": f"{rule.role.value} lacks approvals.decide"}])
            if rule.org == "org" and session.get(Org, rule.org_id) is None:
                raise ValidationFailed("审批规则中的机构不存在", "The org named in an approver rule does not exist",
                                       details=[{"loc": [*loc, "org_id"], "msg": "org not found"}])


def _clear_default(session: Session, keep_id: int | None) -> None:
    session.execute(update(WorkflowTemplate).where(WorkflowTemplate.is_default.is_(True),
                                                   WorkflowTemplate.id != (keep_id or 0)).values(is_default=False))


def _duplicate_name(session: Session, name: str, exclude: int | None = None) -> None:
    stmt = select(WorkflowTemplate.id).where(WorkflowTemplate.name == name)
    if exclude:
        stmt = stmt.where(WorkflowTemplate.id != exclude)
    if session.scalar(stmt) is not None:
        raise Conflict("流程模板名称已存在", "A workflow template with this name exists",
                       code="template_name_taken", details={"field": "name"})


def list_templates(session: Session, *, active_only: bool = False) -> list[WorkflowTemplate]:
    stmt = select(WorkflowTemplate).order_by(WorkflowTemplate.is_default.desc(), WorkflowTemplate.id)
    if active_only:
        stmt = stmt.where(WorkflowTemplate.active.is_(True))
    return list(session.scalars(stmt))


def get_template(session: Session, template_id: int) -> WorkflowTemplate:
    template = session.get(WorkflowTemplate, template_id)
    if template is None:
        raise NotFound("流程模板不存在", "Workflow template not found", code="template_not_found",
                       details={"template_id": template_id})
    return template


def create_template(session: Session, *, data: TemplateCreate, actor: Actor) -> WorkflowTemplate:
    _validate_steps(session, data.steps)
    _duplicate_name(session, data.name)
    template = WorkflowTemplate(name=data.name, description=data.description, is_default=data.is_default,
                                steps=[s.model_dump(mode="json") for s in data.steps], created_by_id=actor.user_id)
    session.add(template)
    session.flush()
    if data.is_default:
        _clear_default(session, template.id)
    audit.record(session, actor=actor, action="approval_template.create", entity_type="workflow_template",
                 entity_id=template.id, after=audit.snapshot(template))
    return template


def update_template(session: Session, *, template: WorkflowTemplate, data: TemplateUpdate,
                    actor: Actor) -> WorkflowTemplate:
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
    if data.steps is not None:
        _validate_steps(session, data.steps)
        changes["steps"] = [s.model_dump(mode="json") for s in data.steps]
    if "name" in changes:
        _duplicate_name(session, changes["name"], exclude=template.id)
    before = audit.snapshot(template)
    for key, value in changes.items():
        setattr(template, key, value)
    if template.is_default and not template.active:
        raise ValidationFailed("默认流程模板不能停用", "The default template cannot be deactivated",
                               code="default_template_inactive")
    session.flush()
    if changes.get("is_default"):
        _clear_default(session, template.id)
    audit.record(session, actor=actor, action="approval_template.update", entity_type="workflow_template",
                 entity_id=template.id, before=before, after=audit.snapshot(template))
    return template


def default_template(session: Session) -> WorkflowTemplate | None:
    return session.scalar(select(WorkflowTemplate).where(WorkflowTemplate.is_default.is_(True),
                                                         WorkflowTemplate.active.is_(True)).limit(1))


# ---- who may decide -------------------------------------------------------------------------------------

def _ancestors(session: Session, org: Org) -> list[Org]:
    ids = [int(x) for x in org.path.strip("/").split("/") if x]
    by_id = {o.id: o for o in session.scalars(select(Org).where(Org.id.in_(ids)))}
    return [by_id[i] for i in ids if i in by_id]


def _target_org(session: Session, rule: dict, plan_org: Org) -> Org | None:
    relation = rule["org"]
    if relation == "plan_org":
        return plan_org
    if relation == "org":
        return session.get(Org, rule.get("org_id"))
    chain = _ancestors(session, plan_org) or [plan_org]
    if relation == "head_office":
        return chain[0]
    # plan_branch: the branch above (or at) the plan's org; a head-office plan is its own "branch".
    return next((o for o in chain if o.level == "branch"), chain[0])


def resolve_approvers(session: Session, *, rules: Iterable[dict], plan_org: Org,
                      exclude_user_id: int | None) -> list[tuple[User, Org]]:
    """Active users matching any rule, now. The plan's submitter never approves their own plan."""
    found: dict[int, tuple[User, Org]] = {}
    for rule in rules:
        org = _target_org(session, rule, plan_org)
        if org is None or not has_permission(rule["role"], Permission.approvals_decide):
            continue
        where = (org_service.subtree_condition(Org.path, org.path) if rule.get("include_subtree")
                 else Org.id == org.id)
        rows = session.execute(
            select(User, Org).join(Org, Org.id == User.org_id)
            .where(where, User.role == rule["role"], User.is_active.is_(True)).order_by(User.id)
        ).all()
        for user, user_org in rows:
            if user.id != exclude_user_id:
                found.setdefault(user.id, (user, user_org))
    return list(found.values())


def _required(mode: str, required: int | None, eligible: int) -> int:
    if mode == "all":
        return eligible
    if mode == "n_of_m":
        return required or 1
    return 1


def _active_delegates(session: Session, user_ids: Sequence[int], now: datetime) -> dict[int, list[int]]:
    """delegator → delegates whose delegation covers ``now``."""
    if not user_ids:
        return {}
    rows = session.execute(select(Delegation.delegator_id, Delegation.delegate_id).where(
        Delegation.delegator_id.in_(user_ids), Delegation.revoked_at.is_(None),
        Delegation.starts_at <= now, Delegation.ends_at > now)).all()
    out: dict[int, list[int]] = {}
    for delegator, delegate in rows:
        out.setdefault(delegator, []).append(delegate)
    return out


# ---- events and notifications ---------------------------------------------------------------------------

def _event(session: Session, instance: ApprovalInstance, action: str, *, actor_id: int | None,
           step_id: int | None = None, on_behalf_of_id: int | None = None, comment: str | None = None,
           attachment_ids: Sequence[int] = ()) -> ApprovalEvent:
    event = ApprovalEvent(plan_id=instance.plan_id, instance_id=instance.id, step_id=step_id, action=action,
                          actor_id=actor_id, on_behalf_of_id=on_behalf_of_id, comment=comment or None,
                          attachment_ids=list(attachment_ids))
    session.add(event)
    return event


def _check_attachments(session: Session, plan: Plan, ids: Sequence[int]) -> list[int]:
    if not ids:
        return []
    found = set(session.scalars(select(PlanDocument.id).where(PlanDocument.id.in_(ids),
                                                               PlanDocument.plan_id == plan.id)))
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationFailed("附件不存在或不属于该方案", "An attachment does not exist or belongs to another plan",
                               details=[{"loc": ["body", "attachment_ids"], "msg": f"unknown ids {missing}"}])
    return list(dict.fromkeys(ids))


def _notify_step(session: Session, plan: Plan, step: ApprovalStep, user_ids: list[int], now: datetime) -> None:
    delegates = _active_delegates(session, user_ids, now)
    targets = user_ids + [d for ds in delegates.values() for d in ds]
    notify(session, user_ids=targets, kind="approval.pending", link=f"/approvals?plan={plan.id}",
           title_zh=f"待审批：{plan.title}（{step.name}）", title_en=f"Approval needed: {plan.title} ({step.name})")


# ---- the state machine ----------------------------------------------------------------------------------

def _open_step(session: Session, plan: Plan, plan_org: Org, instance: ApprovalInstance, step: ApprovalStep,
               now: datetime, eligible: list[tuple[User, Org]] | None = None) -> None:
    if eligible is None:
        eligible = resolve_approvers(session, rules=step.rules, plan_org=plan_org,
                                     exclude_user_id=instance.submitted_by_id)
    for user, org in eligible:
        session.add(ApprovalAssignee(step_id=step.id, user_id=user.id, org_id=org.id, role=user.role))
    step.required = min(_required(step.mode, step.required, len(eligible)), max(len(eligible), 1))
    step.status = "pending"
    step.opened_at = now
    instance.current_position = step.position
    session.flush()
    _event(session, instance, "step_opened", actor_id=None, step_id=step.id)
    _notify_step(session, plan, step, [u.id for u, _ in eligible], now)


def submit(session: Session, *, principal: Principal, plan: Plan, template_id: int | None = None,
           comment: str | None = None, now: datetime | None = None) -> ApprovalInstance:
    """Send the plan's current version for countersign (提交会签); a rejected or withdrawn plan is resubmitted."""
    now = now or utcnow()
    if plan.status not in plan_service.EDITABLE:
        raise Conflict("方案当前状态不能提交会签", "The plan cannot be submitted in its current status",
                       code="plan_not_submittable", details={"status": plan.status})
    template = get_template(session, template_id) if template_id else default_template(session)
    if template is None or not template.active:
        raise ValidationFailed("尚未配置可用的会签流程模板，请联系管理员", "No active countersign template; ask an admin",
                               code="no_workflow_template")
    plan_org = plan_service.owner_org(session, plan)
    first = resolve_approvers(session, rules=template.steps[0]["approvers"], plan_org=plan_org,
                              exclude_user_id=principal.user.id)
    for position, spec in enumerate(template.steps, start=1):
        eligible = first if position == 1 else resolve_approvers(
            session, rules=spec["approvers"], plan_org=plan_org, exclude_user_id=principal.user.id)
        needed = _required(spec["mode"], spec.get("required"), len(eligible))
        if not eligible or len(eligible) < needed:
            raise ValidationFailed(
                f"审批环节“{spec['name']}”找不到足够的审批人", f"Step '{spec['name']}' has too few eligible approvers",
                code="no_eligible_approvers",
                details={"step": position, "name": spec["name"], "eligible": len(eligible), "required": needed})
    resubmit = session.scalar(select(func.count()).select_from(ApprovalInstance)
                              .where(ApprovalInstance.plan_id == plan.id)) > 0
    plan_service.mark_in_review(session, plan, actor=principal.actor)
    instance = ApprovalInstance(plan_id=plan.id, plan_version=plan.version, template_id=template.id,
                                template_name=template.name, status="in_progress", current_position=1,
                                submitted_by_id=principal.user.id, submitted_at=now)
    session.add(instance)
    session.flush()
    steps = []
    for position, spec in enumerate(template.steps, start=1):
        step = ApprovalStep(instance_id=instance.id, position=position, name=spec["name"], mode=spec["mode"],
                            required=spec.get("required") or 1, rules=spec["approvers"], status="waiting",
                            version=0, approvals=0, rejections=0)
        session.add(step)
        steps.append(step)
    session.flush()
    _event(session, instance, "resubmit" if resubmit else "submit", actor_id=principal.user.id, comment=comment)
    _open_step(session, plan, plan_org, instance, steps[0], now, eligible=first)
    audit.record(session, actor=principal.actor, action="approval.submit", entity_type="approval_instance",
                 entity_id=instance.id, after={"plan_id": plan.id, "plan_version": plan.version,
                                               "template": template.name})
    return instance


def _guarded_step_update(session: Session, step: ApprovalStep, **values) -> None:
    """The one write that decides who wins: it matches only the step version the caller read."""
    result = session.execute(
        update(ApprovalStep)
        .where(ApprovalStep.id == step.id, ApprovalStep.version == step.version, ApprovalStep.status == "pending")
        .values(version=step.version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.rollback()
        raise ApprovalConflict(details={"step_id": step.id})
    session.expire(step)


def _load_step(session: Session, principal: Principal, step_id: int) -> tuple[ApprovalStep, ApprovalInstance, Plan]:
    step = session.get(ApprovalStep, step_id)
    if step is None:
        raise NotFound("审批环节不存在", "Approval step not found", code="approval_step_not_found",
                       details={"step_id": step_id})
    instance = session.get(ApprovalInstance, step.instance_id)
    try:
        plan = plan_service.get_plan(session=session, principal=principal, plan_id=instance.plan_id)
    except NotFound:  # a plan outside the caller's scope: its steps do not exist for them either
        raise NotFound("审批环节不存在", "Approval step not found", code="approval_step_not_found",
                       details={"step_id": step_id}) from None
    return step, instance, plan


def _require_open(instance: ApprovalInstance, step: ApprovalStep) -> None:
    if instance.status != "in_progress":
        raise Conflict("该会签已结束", "This countersign has ended", code="approval_not_in_progress",
                       details={"status": instance.status})
    if step.status != "pending":
        raise Conflict("该审批环节当前不可处理", "This step is not open for decisions", code="step_not_open",
                       details={"status": step.status})


def _acting_assignee(session: Session, step: ApprovalStep, user: User, on_behalf_of_id: int | None,
                     now: datetime) -> ApprovalAssignee:
    """The assignment the caller decides: their own, or that of someone who delegated to them."""
    assignees = {a.user_id: a for a in session.scalars(select(ApprovalAssignee)
                                                         .where(ApprovalAssignee.step_id == step.id))}
    if on_behalf_of_id is None or on_behalf_of_id == user.id:
        own = assignees.get(user.id)
        if own is not None:
            if own.decision is not None:
                raise Conflict("您已处理过该审批环节", "You have already decided this step", code="already_decided",
                               details={"decision": own.decision})
            return own
        candidates = [uid for uid, a in assignees.items() if a.decision is None]
    else:
        candidates = [on_behalf_of_id] if on_behalf_of_id in assignees else []
    delegators = _active_delegates(session, candidates, now)
    for delegator in candidates:
        if user.id in delegators.get(delegator, []):
            assignee = assignees[delegator]
            if assignee.decision is not None:
                raise Conflict("该审批人已处理过该环节", "That approver has already decided this step",
                               code="already_decided", details={"decision": assignee.decision})
            return assignee
    raise NotAnApprover(details={"step_id": step.id})


def _outcome(step: ApprovalStep, approvals: int, rejections: int, eligible: int) -> str:
    if step.mode in ("single", "any"):
        return "approved" if approvals else "rejected"  # 或签: the first decision decides
    if step.mode == "all":
        return "rejected" if rejections else ("approved" if approvals >= step.required else "pending")
    # n_of_m: approved at N approvals; rejected once N can no longer be reached
    if approvals >= step.required:
        return "approved"
    return "rejected" if rejections > eligible - step.required else "pending"


def decide(session: Session, *, principal: Principal, step_id: int, action: str, comment: str | None = None,
           on_behalf_of_id: int | None = None, attachment_ids: Sequence[int] = (),
           expected_version: int | None = None, now: datetime | None = None) -> ApprovalInstance:
    """Approve or reject a step (同意 / 驳回), for oneself or as a delegate."""
    now = now or utcnow()
    step, instance, plan = _load_step(session, principal, step_id)
    _require_open(instance, step)
    if expected_version is not None and expected_version != step.version:
        raise ApprovalConflict(details={"step_id": step.id, "version": step.version})
    assignee = _acting_assignee(session, step, principal.user, on_behalf_of_id, now)
    attachments = _check_attachments(session, plan, attachment_ids)
    eligible = session.scalar(select(func.count()).select_from(ApprovalAssignee)
                              .where(ApprovalAssignee.step_id == step.id))
    approvals = step.approvals + (action == "approve")
    rejections = step.rejections + (action == "reject")
    outcome = _outcome(step, approvals, rejections, eligible)
    _guarded_step_update(session, step, approvals=approvals, rejections=rejections, status=outcome,
                         closed_at=None if outcome == "pending" else now)
    # The step's guarded update already serialises deciders; the assignee row is written under its protection.
    assignee.decision, assignee.decided_by_id, assignee.decided_at = action, principal.user.id, now
    on_behalf = assignee.user_id if assignee.user_id != principal.user.id else None
    _event(session, instance, action, actor_id=principal.user.id, step_id=step.id, on_behalf_of_id=on_behalf,
           comment=comment, attachment_ids=attachments)
    audit.record(session, actor=principal.actor, action=f"approval.{action}", entity_type="approval_step",
                 entity_id=step.id, after={"plan_id": plan.id, "instance_id": instance.id, "outcome": outcome,
                                           "on_behalf_of": on_behalf})
    if outcome == "approved":
        _advance(session, plan, instance, step, principal, now)
    elif outcome == "rejected":
        _finish(session, plan, instance, "rejected", principal.actor, now)
        notify(session, user_ids=[instance.submitted_by_id] if instance.submitted_by_id else [],
               kind="plan.rejected", link=f"/plans/{plan.id}",
               title_zh=f"方案被驳回：{plan.title}", title_en=f"Plan rejected: {plan.title}",
               body_zh=comment, body_en=comment)
    session.flush()
    return instance


def _advance(session: Session, plan: Plan, instance: ApprovalInstance, step: ApprovalStep, principal: Principal,
             now: datetime) -> None:
    following = session.scalar(select(ApprovalStep).where(ApprovalStep.instance_id == instance.id,
                                                          ApprovalStep.position == step.position + 1))
    if following is not None:
        _open_step(session, plan, plan_service.owner_org(session, plan), instance, following, now)
        return
    _finish(session, plan, instance, "approved", principal.actor, now)
    campaign = campaign_service.create_draft_from_plan(session, plan=plan, actor=principal.actor, now=now)
    _event(session, instance, "campaign_created", actor_id=None, comment=campaign.code)
    notify(session, user_ids=[instance.submitted_by_id] if instance.submitted_by_id else [],
           kind="plan.approved", link=f"/campaigns?code={campaign.code}",
           title_zh=f"方案已通过会签：{plan.title}，已生成活动 {campaign.code}",
           title_en=f"Plan approved: {plan.title}; campaign {campaign.code} created")


def _finish(session: Session, plan: Plan, instance: ApprovalInstance, status: str, actor: Actor,
            now: datetime) -> None:
    instance.status = status
    instance.finished_at = now
    session.execute(update(ApprovalStep).where(ApprovalStep.instance_id == instance.id,
                                               ApprovalStep.status.in_(("waiting", "pending")))
                    .values(status="cancelled", closed_at=now).execution_options(synchronize_session="fetch"))
    _event(session, instance, status, actor_id=None)
    if status == "approved":
        plan_service.mark_approved(session, plan, version=instance.plan_version, actor=actor)
    elif status == "rejected":
        plan_service.mark_rejected(session, plan, actor=actor)
    else:
        plan_service.mark_withdrawn(session, plan, actor=actor)


def current_instance(session: Session, plan: Plan) -> ApprovalInstance | None:
    return session.scalar(select(ApprovalInstance).where(ApprovalInstance.plan_id == plan.id)
                          .order_by(ApprovalInstance.id.desc()).limit(1))


def withdraw(session: Session, *, principal: Principal, plan: Plan, comment: str | None = None,
             now: datetime | None = None) -> ApprovalInstance:
    """The author takes the plan back from countersign (撤回); it can be revised and resubmitted."""
    now = now or utcnow()
    instance = current_instance(session, plan)
    if instance is None or instance.status != "in_progress" or plan.status != "in_review":
        raise Conflict("方案不在会签中，无法撤回", "The plan is not in countersign and cannot be withdrawn",
                       code="plan_not_in_review", details={"status": plan.status})
    step = session.scalar(select(ApprovalStep).where(ApprovalStep.instance_id == instance.id,
                                                     ApprovalStep.status == "pending"))
    pending_users: list[int] = []
    if step is not None:
        pending_users = list(session.scalars(select(ApprovalAssignee.user_id).where(
            ApprovalAssignee.step_id == step.id, ApprovalAssignee.decision.is_(None))))
        _guarded_step_update(session, step, status="cancelled", closed_at=now)
    _event(session, instance, "withdraw", actor_id=principal.user.id, step_id=step.id if step else None,
           comment=comment)
    _finish(session, plan, instance, "withdrawn", principal.actor, now)
    notify(session, user_ids=pending_users, kind="approval.withdrawn", link=f"/plans/{plan.id}",
           title_zh=f"方案已撤回：{plan.title}", title_en=f"Plan withdrawn: {plan.title}")
    audit.record(session, actor=principal.actor, action="approval.withdraw", entity_type="approval_instance",
                 entity_id=instance.id, after={"plan_id": plan.id})
    session.flush()
    return instance


def add_comment(session: Session, *, principal: Principal, plan: Plan, comment: str, step_id: int | None = None,
                attachment_ids: Sequence[int] = ()) -> ApprovalEvent:
    """A comment on the countersign (审批意见) without a decision, by an approver or the plan's editors."""
    instance = current_instance(session, plan)
    if instance is None:
        raise Conflict("方案尚未提交会签", "The plan has not been submitted", code="plan_not_submitted")
    if step_id is not None and session.scalar(select(ApprovalStep.id).where(
            ApprovalStep.id == step_id, ApprovalStep.instance_id == instance.id)) is None:
        raise ValidationFailed("审批环节不属于该方案的当前会签", "The step is not part of the plan's countersign",
                               details=[{"loc": ["body", "step_id"], "msg": "not in the current instance"}])
    if not (principal.can(Permission.plans_manage) or _is_assignee(session, instance, principal.user.id)):
        raise NotAnApprover()
    attachments = _check_attachments(session, plan, attachment_ids)
    event = _event(session, instance, "comment", actor_id=principal.user.id, step_id=step_id, comment=comment,
                   attachment_ids=attachments)
    audit.record(session, actor=principal.actor, action="approval.comment", entity_type="approval_instance",
                 entity_id=instance.id, after={"plan_id": plan.id, "comment": comment[:200]})
    session.flush()
    return event


def _is_assignee(session: Session, instance: ApprovalInstance, user_id: int) -> bool:
    now = utcnow()
    delegators = select(Delegation.delegator_id).where(Delegation.delegate_id == user_id,
                                                       Delegation.revoked_at.is_(None),
                                                       Delegation.starts_at <= now, Delegation.ends_at > now)
    return session.scalar(
        select(func.count()).select_from(ApprovalAssignee).join(ApprovalStep, ApprovalStep.id == ApprovalAssignee.step_id)
        .where(ApprovalStep.instance_id == instance.id,
               or_(ApprovalAssignee.user_id == user_id, ApprovalAssignee.user_id.in_(delegators)))
    ) > 0


def step_for_attachment(session: Session, *, principal: Principal, step_id: int) -> tuple[ApprovalStep, Plan]:
    step, instance, plan = _load_step(session, principal, step_id)
    _require_open(instance, step)
    if not (principal.can(Permission.plans_manage) or _is_assignee(session, instance, principal.user.id)):
        raise NotAnApprover(details={"step_id": step_id})
    return step, plan


# ---- reading --------------------------------------------------------------------------------------------

def _users(session: Session, ids: Iterable[int | None]) -> dict[int, UserRef]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return {u.id: UserRef(id=u.id, username=u.username, display_name=u.display_name)
            for u in session.scalars(select(User).where(User.id.in_(wanted)))}


def plan_approvals(session: Session, plan: Plan) -> PlanApprovals:
    """Every submission of the plan with its steps, assignees and timeline."""
    instances = list(session.scalars(select(ApprovalInstance).where(ApprovalInstance.plan_id == plan.id)
                                     .order_by(ApprovalInstance.id.desc())))
    ids = [i.id for i in instances]
    steps = list(session.scalars(select(ApprovalStep).where(ApprovalStep.instance_id.in_(ids))
                                 .order_by(ApprovalStep.position))) if ids else []
    assignees = list(session.scalars(select(ApprovalAssignee).where(
        ApprovalAssignee.step_id.in_([s.id for s in steps])).order_by(ApprovalAssignee.id))) if steps else []
    events = list(session.scalars(select(ApprovalEvent).where(ApprovalEvent.instance_id.in_(ids))
                                  .order_by(ApprovalEvent.id))) if ids else []
    users = _users(session, [a.user_id for a in assignees] + [a.decided_by_id for a in assignees]
                   + [e.actor_id for e in events] + [e.on_behalf_of_id for e in events]
                   + [i.submitted_by_id for i in instances])
    orgs = {o.id: o for o in session.scalars(select(Org).where(Org.id.in_({a.org_id for a in assignees})))}
    doc_ids = {d for e in events for d in (e.attachment_ids or [])}
    docs = {d.id: plan_service.read_document(d)
            for d in session.scalars(select(PlanDocument).where(PlanDocument.id.in_(doc_ids)))} if doc_ids else {}
    by_step: dict[int, list[AssigneeRead]] = {}
    for a in assignees:
        org = orgs.get(a.org_id)
        by_step.setdefault(a.step_id, []).append(AssigneeRead(
            user=users[a.user_id], org_id=a.org_id, org_name=org.name if org else None,
            org_name_en=org.name_en if org else None, role=a.role, decision=a.decision,
            decided_by=users.get(a.decided_by_id), decided_at=a.decided_at))
    out = []
    for instance in instances:
        out.append(InstanceRead(
            id=instance.id, plan_id=instance.plan_id, plan_version=instance.plan_version,
            template_id=instance.template_id, template_name=instance.template_name, status=instance.status,
            current_position=instance.current_position, submitted_by=users.get(instance.submitted_by_id),
            submitted_at=instance.submitted_at, finished_at=instance.finished_at,
            steps=[StepRead(id=s.id, position=s.position, name=s.name, mode=s.mode, required=s.required,
                            status=s.status, approvals=s.approvals, rejections=s.rejections, version=s.version,
                            opened_at=s.opened_at, closed_at=s.closed_at, assignees=by_step.get(s.id, []))
                   for s in steps if s.instance_id == instance.id],
            events=[ApprovalEventRead(id=e.id, instance_id=e.instance_id, step_id=e.step_id, action=e.action,
                              actor=users.get(e.actor_id), on_behalf_of=users.get(e.on_behalf_of_id),
                              comment=e.comment, attachments=[docs[d] for d in (e.attachment_ids or []) if d in docs],
                              created_at=e.created_at)
                    for e in events if e.instance_id == instance.id],
        ))
    return PlanApprovals(plan_id=plan.id, plan_status=plan.status, instances=out)


def inbox(session: Session, *, principal: Principal, page: PageParams, now: datetime | None = None) -> InboxPage:
    """Steps waiting for the caller's decision (待我审批), including those of people who delegated to them."""
    now = now or utcnow()
    me = principal.user.id
    delegators = select(Delegation.delegator_id).where(Delegation.delegate_id == me, Delegation.revoked_at.is_(None),
                                                       Delegation.starts_at <= now, Delegation.ends_at > now)
    base = (
        select(ApprovalAssignee, ApprovalStep, ApprovalInstance, Plan, Org)
        .join(ApprovalStep, ApprovalStep.id == ApprovalAssignee.step_id)
        .join(ApprovalInstance, ApprovalInstance.id == ApprovalStep.instance_id)
        .join(Plan, Plan.id == ApprovalInstance.plan_id)
        .join(Org, Org.id == Plan.owner_org_id)
        .where(ApprovalAssignee.decision.is_(None), ApprovalStep.status == "pending",
               ApprovalInstance.status == "in_progress",
               org_service.subtree_condition(Org.path, principal.org.path),
               or_(ApprovalAssignee.user_id == me,
                   and_(ApprovalAssignee.user_id.in_(delegators), ApprovalAssignee.user_id != me)))
    )
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = session.execute(base.order_by(ApprovalStep.opened_at.desc(), ApprovalAssignee.id.desc())
                           .offset(page.offset).limit(page.page_size)).all()
    users = _users(session, [r[0].user_id for r in rows] + [r[2].submitted_by_id for r in rows])
    counts = dict(session.execute(select(ApprovalStep.instance_id, func.count()).where(
        ApprovalStep.instance_id.in_({r[2].id for r in rows})).group_by(ApprovalStep.instance_id)).all()) if rows else {}
    items = [
        InboxItem(step_id=step.id, step_name=step.name, step_mode=step.mode, step_version=step.version,
                  position=step.position, steps_total=counts.get(instance.id, 0), instance_id=instance.id,
                  plan_id=plan.id, plan_title=plan.title, plan_version=instance.plan_version,
                  plan_owner_org_name=org.name, plan_owner_org_name_en=org.name_en, budget_fen=plan.budget_fen,
                  submitted_by=users.get(instance.submitted_by_id), submitted_at=instance.submitted_at,
                  opened_at=step.opened_at, on_behalf_of=users.get(assignee.user_id) if assignee.user_id != me else None)
        for assignee, step, instance, plan, org in rows
    ]
    return InboxPage(items=items, total=total, page=page.page, page_size=page.page_size)


# ---- delegations ----------------------------------------------------------------------------------------

def _delegation_read(session: Session, rows: Sequence[Delegation], now: datetime) -> list[DelegationRead]:
    users = _users(session, [d.delegator_id for d in rows] + [d.delegate_id for d in rows])
    return [DelegationRead(id=d.id, delegator=users[d.delegator_id], delegate=users[d.delegate_id],
                           starts_at=d.starts_at, ends_at=d.ends_at, reason=d.reason, revoked_at=d.revoked_at,
                           active=d.revoked_at is None and d.starts_at <= now < d.ends_at, created_at=d.created_at)
            for d in rows]


def delegate_candidates(session: Session, *, principal: Principal, q: str | None = None) -> list[UserRef]:
    """Colleagues who could decide in the caller's stead: active users whose role may approve."""
    roles = [r for r in ("admin", "branch_manager", "approver") if has_permission(r, Permission.approvals_decide)]
    stmt = select(User).where(User.role.in_(roles), User.is_active.is_(True), User.id != principal.user.id)
    if q and q.strip():
        stmt = stmt.where(or_(User.username.contains(q.strip(), autoescape=True),
                              User.display_name.contains(q.strip(), autoescape=True)))
    return [UserRef(id=u.id, username=u.username, display_name=u.display_name)
            for u in session.scalars(stmt.order_by(User.display_name, User.id).limit(50))]


def list_delegations(session: Session, *, principal: Principal, now: datetime | None = None) -> list[DelegationRead]:
    me = principal.user.id
    rows = list(session.scalars(select(Delegation).where(or_(Delegation.delegator_id == me,
                                                             Delegation.delegate_id == me))
                                .order_by(Delegation.id.desc()).limit(200)))
    return _delegation_read(session, rows, now or utcnow())


def create_delegation(session: Session, *, principal: Principal, data: DelegationCreate) -> DelegationRead:
    """Let a colleague decide in the caller's stead while they are away (休假委托)."""
    if data.delegate_id == principal.user.id:
        raise ValidationFailed("不能委托给自己", "You cannot delegate to yourself",
                               details=[{"loc": ["body", "delegate_id"], "msg": "self"}])
    delegate = session.get(User, data.delegate_id)
    if delegate is None or not delegate.is_active:
        raise ValidationFailed("被委托人不存在或已停用", "The delegate does not exist or is disabled",
                               code="delegate_not_found", details=[{"loc": ["body", "delegate_id"], "msg": "unknown"}])
    if not has_permission(delegate.role, Permission.approvals_decide):
        raise ValidationFailed("被委托人没有审批权限", "The delegate has no approval permission",
                               code="delegate_cannot_approve",
                               details=[{"loc": ["body", "delegate_id"], "msg": "lacks approvals.decide"}])
    row = Delegation(delegator_id=principal.user.id, delegate_id=delegate.id, starts_at=data.starts_at,
                     ends_at=data.ends_at, reason=data.reason)
    session.add(row)
    session.flush()
    audit.record(session, actor=principal.actor, action="approval.delegate", entity_type="approval_delegation",
                 entity_id=row.id, after=audit.snapshot(row))
    notify(session, user_ids=[delegate.id], kind="approval.delegated", link="/approvals",
           title_zh=f"{principal.user.display_name} 委托您代为审批", title_en=f"{principal.user.display_name} "
           "delegated approvals to you")
    return _delegation_read(session, [row], utcnow())[0]


def revoke_delegation(session: Session, *, principal: Principal, delegation_id: int) -> DelegationRead:
    row = session.get(Delegation, delegation_id)
    if row is None or row.delegator_id != principal.user.id:
        raise NotFound("委托不存在", "Delegation not found", code="delegation_not_found",
                       details={"delegation_id": delegation_id})
    if row.revoked_at is None:
        before = audit.snapshot(row)
        row.revoked_at = utcnow()
        session.flush()
        audit.record(session, actor=principal.actor, action="approval.delegation_revoke",
                     entity_type="approval_delegation", entity_id=row.id, before=before, after=audit.snapshot(row))
    return _delegation_read(session, [row], utcnow())[0]
