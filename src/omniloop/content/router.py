"""HTTP routes for the template library (模板库), preview, and blocked words (敏感词)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from omniloop.content import service
from omniloop.content import variables as var
from omniloop.content.schemas import (
    BlockedWordCreate,
    BlockedWordPage,
    BlockedWordRead,
    BlockedWordUpdate,
    Channel,
    MessageTemplateCreate,
    MessageTemplatePage,
    MessageTemplateRead,
    MessageTemplateUpdate,
    PreviewRequest,
    PreviewResult,
    TemplateStatus,
    VariableRead,
    VersionRead,
)
from omniloop.core.deps import SessionDep
from omniloop.core.ids import IdPath
from omniloop.core.pagination import PageDep, paginate
from omniloop.org.auth import Principal, require
from omniloop.org.roles import Permission

router = APIRouter(tags=["message-templates"])
ERR = {401: {"description": "Not signed in"}, 403: {"description": "Permission denied"}}
NOT_FOUND = {**ERR, 404: {"description": "Not found or outside your scope"}}
INVALID = {**NOT_FOUND, 409: {"description": "Conflict (code taken, concurrent edit)"},
           422: {"description": "Invalid input or template problems (details: one entry per problem)"}}


def _read(session, principal: Principal, template) -> MessageTemplateRead:
    return service.reads(session, principal, [template])[0]


@router.get("/api/message-templates", response_model=MessageTemplatePage, responses=ERR)
def list_templates(session: SessionDep, page: PageDep, channel: Channel | None = None,
                   status: TemplateStatus | None = Query(None, description="default: active"),
                   q: Annotated[str | None, Query(max_length=100)] = None,
                   principal: Principal = require(Permission.campaigns_read)) -> MessageTemplatePage:
    """Templates (模板库) per channel with their current version."""
    rows, total = paginate(session, service.list_statement(principal, q=q, channel=channel, status=status), page)
    return MessageTemplatePage(items=service.reads(session, principal, rows), total=total, page=page.page,
                        page_size=page.page_size)


@router.get("/api/message-templates/variables", response_model=list[VariableRead], responses=ERR)
def list_variables(principal: Principal = require(Permission.campaigns_read)) -> list[VariableRead]:
    """The variables a template may use, with labels and sample values (for the editor)."""
    return [VariableRead(name=v.name, label_zh=v.label_zh, label_en=v.label_en, sample=v.sample) for v in var.VARIABLES]


@router.post("/api/message-templates/preview", response_model=PreviewResult, responses=INVALID)
def preview(request: Request, data: PreviewRequest, session: SessionDep,
            principal: Principal = require(Permission.campaigns_read)) -> PreviewResult:
    """Render a draft on sample customers of your scope (预览), with length rules and blocked-word checks."""
    return service.preview(session, principal=principal, data=data, now=request.app.state.clock.now())


@router.post("/api/message-templates", response_model=MessageTemplateRead, status_code=201, responses=INVALID)
def create_template(data: MessageTemplateCreate, session: SessionDep,
                    principal: Principal = require(Permission.elements_manage)) -> MessageTemplateRead:
    """Create a template with its version 1; refused (422 ``template_problems``) while it has errors."""
    template = service.create(session=session, principal=principal, data=data)
    session.commit()
    return _read(session, principal, template)


@router.get("/api/message-templates/{template_id}", response_model=MessageTemplateRead, responses=NOT_FOUND)
def get_template(template_id: IdPath, session: SessionDep,
                 principal: Principal = require(Permission.campaigns_read)) -> MessageTemplateRead:
    return _read(session, principal, service.get_visible(session=session, principal=principal,
                                                         template_id=template_id))


@router.patch("/api/message-templates/{template_id}", response_model=MessageTemplateRead, responses=INVALID)
def update_template(template_id: IdPath, data: MessageTemplateUpdate, session: SessionDep,
                    principal: Principal = require(Permission.elements_manage)) -> MessageTemplateRead:
    """Rename, change purpose or status; a changed subject/body/fields becomes a new version."""
    template = service.get_editable(session=session, principal=principal, template_id=template_id)
    service.update(session=session, principal=principal, template=template, data=data)
    session.commit()
    return _read(session, principal, template)


@router.delete("/api/message-templates/{template_id}", response_model=MessageTemplateRead, responses=INVALID)
def archive_template(template_id: IdPath, session: SessionDep,
                     principal: Principal = require(Permission.elements_manage)) -> MessageTemplateRead:
    """Archive (归档) a template: versions stay, because campaigns and sent messages refer to them."""
    template = service.get_editable(session=session, principal=principal, template_id=template_id)
    service.update(session=session, principal=principal, template=template, data=MessageTemplateUpdate(status="archived"))
    session.commit()
    return _read(session, principal, template)


@router.get("/api/message-templates/{template_id}/versions", response_model=list[VersionRead], responses=NOT_FOUND)
def list_versions(template_id: IdPath, session: SessionDep,
                  principal: Principal = require(Permission.campaigns_read)) -> list[VersionRead]:
    """Version history (版本记录), newest first."""
    template = service.get_visible(session=session, principal=principal, template_id=template_id)
    return service.versions(session, template)


@router.get("/api/blocked-words", response_model=BlockedWordPage, responses=ERR)
def list_blocked_words(session: SessionDep, page: PageDep, q: Annotated[str | None, Query(max_length=50)] = None,
                       category: Annotated[str | None, Query(max_length=32)] = None,
                       principal: Principal = require(Permission.campaigns_read)) -> BlockedWordPage:
    """The blocked-word list (敏感词库) every template is checked against."""
    rows, total = paginate(session, service.blocked_words_statement(q=q, category=category), page)
    return BlockedWordPage(items=[BlockedWordRead.model_validate(r) for r in rows], total=total, page=page.page,
                           page_size=page.page_size)


@router.post("/api/blocked-words", response_model=BlockedWordRead, status_code=201,
             responses={**ERR, 409: {"description": "Already listed"}, 422: {"description": "Invalid"}})
def create_blocked_word(data: BlockedWordCreate, session: SessionDep,
                        principal: Principal = require(Permission.elements_manage)) -> BlockedWordRead:
    row = service.create_blocked_word(session=session, principal=principal, data=data)
    session.commit()
    return BlockedWordRead.model_validate(row)


@router.patch("/api/blocked-words/{word_id}", response_model=BlockedWordRead, responses=NOT_FOUND)
def update_blocked_word(word_id: IdPath, data: BlockedWordUpdate, session: SessionDep,
                        principal: Principal = require(Permission.elements_manage)) -> BlockedWordRead:
    row = service.update_blocked_word(session=session, principal=principal,
                                      row=service.get_blocked_word(session, word_id), data=data)
    session.commit()
    return BlockedWordRead.model_validate(row)


@router.delete("/api/blocked-words/{word_id}", status_code=204, responses=NOT_FOUND)
def delete_blocked_word(word_id: IdPath, session: SessionDep,
                        principal: Principal = require(Permission.elements_manage)) -> Response:
    service.delete_blocked_word(session=session, principal=principal, row=service.get_blocked_word(session, word_id))
    session.commit()
    return Response(status_code=204)
