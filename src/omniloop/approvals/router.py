"""HTTP routes of the countersign (会签): submit / withdraw a plan, decide, comment, inbox, templates,
delegations, and the plan's approval timeline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, Request, UploadFile

from omniloop.approvals import service
from omniloop.approvals.schemas import (
    ApprovalEventRead,
    CommentRequest,
    DecisionRequest,
    DelegationCreate,
    DelegationRead,
    InboxPage,
    PlanApprovals,
    SubmitRequest,
    TemplateCreate,
    TemplateRead,
    TemplateUpdate,
    UserRef,
    WithdrawRequest,
)
from omniloop.core.deps import SessionDep
from omniloop.core.ids import IdPath
from omniloop.core.pagination import PageDep
from omniloop.org.auth import Principal, require
from omniloop.org.roles import Permission
from omniloop.plans import service as plan_service
from omniloop.plans.router import read_upload
from omniloop.plans.schemas import DocumentRead

router = APIRouter(prefix="/api", tags=["approvals"])
ERR = {401: {"description": "Not signed in"}, 403: {"description": "Permission denied"}}
ERR_404 = {**ERR, 404: {"description": "Not found"}}
STATE = {**ERR_404, 409: {"description": "Illegal transition (code says which)"}, 422: {}}


@router.post("/plans/{plan_id}/submit", response_model=PlanApprovals, responses=STATE)
def submit(plan_id: IdPath, body: SubmitRequest, session: SessionDep,
           principal: Principal = require(Permission.plans_manage)) -> PlanApprovals:
    """Send the plan for countersign (提交会签), or resubmit it after a rejection or withdrawal."""
    plan = plan_service.get_plan(session=session, principal=principal, plan_id=plan_id)
    service.submit(session, principal=principal, plan=plan, template_id=body.template_id, comment=body.comment)
    session.commit()
    return service.plan_approvals(session, plan)


@router.post("/plans/{plan_id}/withdraw", response_model=PlanApprovals, responses=STATE)
def withdraw(plan_id: IdPath, body: WithdrawRequest, session: SessionDep,
             principal: Principal = require(Permission.plans_manage)) -> PlanApprovals:
    plan = plan_service.get_plan(session=session, principal=principal, plan_id=plan_id)
    service.withdraw(session, principal=principal, plan=plan, comment=body.comment)
    session.commit()
    return service.plan_approvals(session, plan)


@router.get("/plans/{plan_id}/approvals", response_model=PlanApprovals, responses=ERR_404)
def plan_approvals(plan_id: IdPath, session: SessionDep,
                   principal: Principal = require(Permission.plans_read)) -> PlanApprovals:
    """The plan's countersign history: every submission, its steps, approvers and timeline (审批轨迹)."""
    plan = plan_service.get_plan(session=session, principal=principal, plan_id=plan_id)
    return service.plan_approvals(session, plan)


@router.post("/plans/{plan_id}/comments", response_model=ApprovalEventRead, status_code=201, responses=STATE)
def comment(plan_id: IdPath, body: CommentRequest, session: SessionDep,
            principal: Principal = require(Permission.plans_read)) -> ApprovalEventRead:
    plan = plan_service.get_plan(session=session, principal=principal, plan_id=plan_id)
    event = service.add_comment(session, principal=principal, plan=plan, comment=body.comment, step_id=body.step_id,
                                attachment_ids=body.attachment_ids)
    session.commit()
    timeline = service.plan_approvals(session, plan)
    return next(e for i in timeline.instances for e in i.events if e.id == event.id)


@router.get("/approvals/inbox", response_model=InboxPage, responses=ERR)
def inbox(session: SessionDep, page: PageDep,
          principal: Principal = require(Permission.approvals_decide)) -> InboxPage:
    """Steps waiting for my decision (待我审批), with those delegated to me."""
    return service.inbox(session, principal=principal, page=page)


@router.post("/approvals/steps/{step_id}/decision", response_model=PlanApprovals, responses=STATE)
def decide(step_id: IdPath, body: DecisionRequest, session: SessionDep,
           principal: Principal = require(Permission.approvals_decide)) -> PlanApprovals:
    """Approve or reject (同意 / 驳回). Of simultaneous decisions on one step exactly one can win: 409."""
    instance = service.decide(session, principal=principal, step_id=step_id, action=body.action,
                              comment=body.comment, on_behalf_of_id=body.on_behalf_of_id,
                              attachment_ids=body.attachment_ids)
    session.commit()
    plan = plan_service.get_plan_unscoped(session=session, plan_id=instance.plan_id)
    return service.plan_approvals(session, plan)


@router.post("/approvals/steps/{step_id}/attachments", response_model=DocumentRead, status_code=201,
             responses={**STATE, 422: {"description": "Corrupt, encrypted, oversized or unsupported"}})
def upload_attachment(
    step_id: IdPath, request: Request, session: SessionDep,
    file: Annotated[UploadFile, File(description=".docx, .pdf, .xlsx, .txt or .md")],
    principal: Principal = require(Permission.plans_read),
) -> DocumentRead:
    """An attachment to a decision or comment on an open step; pass its id in ``attachment_ids``."""
    step, plan = service.step_for_attachment(session, principal=principal, step_id=step_id)
    data = read_upload(request, file)
    document = plan_service.add_document(session=session, principal=principal, plan=plan,
                                         filename=file.filename or "", data=data,
                                         home=request.app.state.settings.home,
                                         max_bytes=request.app.state.settings.plan_doc_max_mb * 2**20,
                                         approval_step_id=step.id)
    session.commit()
    return plan_service.read_document(document)


@router.get("/approvals/templates", response_model=list[TemplateRead], responses=ERR)
def list_templates(session: SessionDep, principal: Principal = require(Permission.plans_read)) -> list:
    return service.list_templates(session)


@router.post("/approvals/templates", response_model=TemplateRead, status_code=201, responses={**ERR, 409: {}, 422: {}})
def create_template(body: TemplateCreate, session: SessionDep,
                    principal: Principal = require(Permission.orgs_manage)):
    """Workflow templates are admin work: they route plans through the org tree (orgs.manage)."""
    template = service.create_template(session, data=body, actor=principal.actor)
    session.commit()
    return template


@router.get("/approvals/templates/{template_id}", response_model=TemplateRead, responses=ERR_404)
def get_template(template_id: IdPath, session: SessionDep, principal: Principal = require(Permission.plans_read)):
    return service.get_template(session, template_id)


@router.patch("/approvals/templates/{template_id}", response_model=TemplateRead,
              responses={**ERR_404, 409: {}, 422: {}})
def update_template(template_id: IdPath, body: TemplateUpdate, session: SessionDep,
                    principal: Principal = require(Permission.orgs_manage)):
    template = service.get_template(session, template_id)
    service.update_template(session, template=template, data=body, actor=principal.actor)
    session.commit()
    return template


@router.get("/approvals/delegates", response_model=list[UserRef], responses=ERR)
def delegate_candidates(
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=64, description="username or name contains")] = None,
    principal: Principal = require(Permission.approvals_decide),
) -> list[UserRef]:
    """Colleagues who may approve, to delegate to (at most 50)."""
    return service.delegate_candidates(session, principal=principal, q=q)


@router.get("/approvals/delegations", response_model=list[DelegationRead], responses=ERR)
def list_delegations(session: SessionDep,
                     principal: Principal = require(Permission.approvals_decide)) -> list[DelegationRead]:
    """Delegations I gave and received."""
    return service.list_delegations(session, principal=principal)


@router.post("/approvals/delegations", response_model=DelegationRead, status_code=201, responses={**ERR, 422: {}})
def create_delegation(body: DelegationCreate, session: SessionDep,
                      principal: Principal = require(Permission.approvals_decide)) -> DelegationRead:
    result = service.create_delegation(session, principal=principal, data=body)
    session.commit()
    return result


@router.post("/approvals/delegations/{delegation_id}/revoke", response_model=DelegationRead, responses=ERR_404)
def revoke_delegation(delegation_id: IdPath, session: SessionDep,
                      principal: Principal = require(Permission.approvals_decide)) -> DelegationRead:
    result = service.revoke_delegation(session, principal=principal, delegation_id=delegation_id)
    session.commit()
    return result
