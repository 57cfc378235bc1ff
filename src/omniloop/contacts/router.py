"""HTTP routes for contact control: policy rules, suppression / DND lists, consents, a customer's contacts,
the dry-run decision ("would this be allowed, and why") and delivery receipts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Path, Query, Request, Response, UploadFile
from sqlalchemy import func, select

from omniloop.campaigns.models import Campaign
from omniloop.contacts import channels, consent, consents, dispatch, lists, reasons, rules, service, timeline
from omniloop.contacts.policy import Proposal
from omniloop.contacts.schemas import (
    ConsentCreate,
    ConsentOverview,
    ConsentRead,
    ContactItemPage,
    ContactRuleCreate,
    ContactRuleList,
    ContactRuleRead,
    ContactRuleUpdate,
    DecideRequest,
    DecideResponse,
    DecideResult,
    EntriesAdd,
    EntriesRemove,
    EntriesReport,
    EntryPage,
    OutboxRead,
    PolicyMeta,
    ReceiptCreate,
    SuppressionListCreate,
    SuppressionListPage,
    SuppressionListRead,
    SuppressionListUpdate,
)
from omniloop.core.deps import SessionDep
from omniloop.core.errors import NotFound
from omniloop.core.ids import IdPath
from omniloop.core.pagination import PageDep, paginate
from omniloop.customers import lists as customer_lists
from omniloop.customers import service as customer_service
from omniloop.customers.uploads import saved_upload
from omniloop.org.auth import Principal, require
from omniloop.org.roles import Permission

router = APIRouter(prefix="/api", tags=["contacts"])
ERR = {401: {"description": "Not signed in"}, 403: {"description": "Permission denied"}}
ERR_404 = {**ERR, 404: {"description": "Not found"}}
ERR_422 = {**ERR_404, 422: {"description": "Invalid input"}}
Manager = Annotated[Principal, require(Permission.contacts_manage)]
CustomerReader = Annotated[Principal, require(Permission.customers_read)]
ConsentManager = Annotated[Principal, require(Permission.consents_manage)]
CustomerNo = Annotated[str, Path(max_length=32)]


# ---- policy rules ----------------------------------------------------------------------------------------

@router.get("/contact-rules", response_model=ContactRuleList, responses=ERR)
def list_rules(session: SessionDep, principal: Manager) -> ContactRuleList:
    """Every rule (enabled or not). Caps count rolling windows, not calendar days."""
    return ContactRuleList(items=[rules.read(r) for r in rules.list_rules(session)])


@router.post("/contact-rules", response_model=ContactRuleRead, status_code=201, responses=ERR_422)
def create_rule(body: ContactRuleCreate, session: SessionDep, principal: Manager) -> ContactRuleRead:
    """422 ``invalid_contact_rule`` lists each missing or wrong field for the rule's kind."""
    rule = rules.create_rule(session, actor=principal.actor, data=body)
    session.commit()
    return rules.read(rule)


@router.patch("/contact-rules/{rule_id}", response_model=ContactRuleRead, responses=ERR_422)
def update_rule(rule_id: IdPath, body: ContactRuleUpdate, session: SessionDep, principal: Manager) -> ContactRuleRead:
    rule = rules.update_rule(session, actor=principal.actor, rule=rules.get_rule(session, rule_id), data=body)
    session.commit()
    return rules.read(rule)


@router.delete("/contact-rules/{rule_id}", status_code=204, responses=ERR_404)
def delete_rule(rule_id: IdPath, session: SessionDep, principal: Manager) -> Response:
    rules.delete_rule(session, actor=principal.actor, rule=rules.get_rule(session, rule_id))
    session.commit()
    return Response(status_code=204)


@router.get("/contact-policy/meta", response_model=PolicyMeta, responses=ERR)
def policy_meta(principal: CustomerReader) -> PolicyMeta:
    """Reason codes with labels, the consent defaults per channel, and the adapter each channel uses."""
    return PolicyMeta(reasons=reasons.catalog(), consent_defaults=consent.table(), adapters=channels.registered())


# ---- suppression lists -----------------------------------------------------------------------------------

@router.get("/suppression-lists", response_model=SuppressionListPage, responses=ERR)
def list_lists(session: SessionDep, page: PageDep, principal: Manager,
               kind: Literal["suppression", "dnd"] | None = None) -> SuppressionListPage:
    stmt = lists.readable_lists(principal)
    if kind:
        stmt = stmt.where(lists.SuppressionList.kind == kind)
    rows, total = paginate(session, stmt.order_by(lists.SuppressionList.id.desc()), page)
    return SuppressionListPage(items=[SuppressionListRead.model_validate(r) for r in rows], total=total,
                               page=page.page, page_size=page.page_size)


@router.post("/suppression-lists", response_model=SuppressionListRead, status_code=201, responses=ERR_422)
def create_list(body: SuppressionListCreate, session: SessionDep, principal: Manager) -> SuppressionListRead:
    row = lists.create_list(session, principal=principal, data=body)
    session.commit()
    return SuppressionListRead.model_validate(row)


@router.get("/suppression-lists/{list_id}", response_model=SuppressionListRead, responses=ERR_404)
def get_list(list_id: IdPath, session: SessionDep, principal: Manager) -> SuppressionListRead:
    return SuppressionListRead.model_validate(lists.get_list(session, principal, list_id))


@router.patch("/suppression-lists/{list_id}", response_model=SuppressionListRead, responses=ERR_422)
def update_list(list_id: IdPath, body: SuppressionListUpdate, session: SessionDep,
                principal: Manager) -> SuppressionListRead:
    row = lists.update_list(session, principal=principal, row=lists.get_list(session, principal, list_id), data=body)
    session.commit()
    return SuppressionListRead.model_validate(row)


@router.delete("/suppression-lists/{list_id}", status_code=204, responses=ERR_404)
def delete_list(list_id: IdPath, session: SessionDep, principal: Manager) -> Response:
    lists.delete_list(session, principal=principal, row=lists.get_list(session, principal, list_id))
    session.commit()
    return Response(status_code=204)


@router.get("/suppression-lists/{list_id}/entries", response_model=EntryPage, responses=ERR_404)
def list_entries(list_id: IdPath, session: SessionDep, page: PageDep, principal: Manager,
                 q: Annotated[str | None, Query(max_length=32, description="customer number prefix")] = None
                 ) -> EntryPage:
    row = lists.get_list(session, principal, list_id)
    stmt = lists.entries_statement(principal, row, q)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = session.execute(stmt.offset(page.offset).limit(page.page_size)).all()
    return EntryPage(items=lists.entry_reads(principal, rows), total=total, page=page.page, page_size=page.page_size)


@router.post("/suppression-lists/{list_id}/entries", response_model=EntriesReport, responses=ERR_422)
def add_entries(list_id: IdPath, body: EntriesAdd, session: SessionDep, principal: Manager) -> EntriesReport:
    row = lists.get_list(session, principal, list_id)
    report = lists.add_entries(session, principal=principal, row=row, numbers=body.customer_nos, reason=body.reason,
                               expires_at=body.expires_at)
    session.commit()
    return report


@router.post("/suppression-lists/{list_id}/entries/remove", response_model=EntriesReport, responses=ERR_422)
def remove_entries(list_id: IdPath, body: EntriesRemove, session: SessionDep, principal: Manager) -> EntriesReport:
    row = lists.get_list(session, principal, list_id)
    report = lists.remove_entries(session, principal=principal, row=row, numbers=body.customer_nos)
    session.commit()
    return report


@router.post("/suppression-lists/{list_id}/upload", response_model=EntriesReport,
             responses={**ERR_422, 413: {"description": "File too large"}, 415: {"description": "Unknown type"}})
def upload_entries(list_id: IdPath, request: Request, session: SessionDep, principal: Manager,
                   file: Annotated[UploadFile, File(description="CSV / XLSX / Parquet with a 客户号 column")],
                   reason: Annotated[str | None, Form(max_length=200)] = None) -> EntriesReport:
    row = lists.get_list(session, principal, list_id)
    with saved_upload(file, max_mb=request.app.state.settings.import_max_mb, prefix="omniloop-suppress-") as path:
        report = lists.upload_entries(session, principal=principal, row=row, path=path,
                                      file_name=file.filename or "", reason=reason)
    session.commit()
    return report


# ---- a customer's consents and contacts -------------------------------------------------------------------

@router.get("/customers/{customer_no}/consents", response_model=ConsentOverview, responses=ERR_404)
def get_consents(customer_no: CustomerNo, session: SessionDep, principal: CustomerReader) -> ConsentOverview:
    customer = customer_service.get_readable(session=session, principal=principal, customer_no=customer_no)
    return consents.overview(session, customer=customer)


@router.post("/customers/{customer_no}/consents", response_model=ConsentRead, status_code=201, responses=ERR_422)
def record_consent(customer_no: CustomerNo, body: ConsentCreate, session: SessionDep,
                   principal: ConsentManager) -> ConsentRead:
    """Record a consent or opt-out (source and time kept); the next contact decision honours it."""
    customer = customer_service.get_readable(session=session, principal=principal, customer_no=customer_no)
    row = consents.record(session, actor=principal.actor, customer=customer, data=body)
    session.commit()
    return ConsentRead.model_validate(row)


@router.get("/customers/{customer_no}/contacts", response_model=ContactItemPage, responses=ERR_404)
def customer_contacts(customer_no: CustomerNo, session: SessionDep, page: PageDep, principal: CustomerReader,
                      kind: Literal["decision", "message"] | None = None) -> ContactItemPage:
    """Every contact decision (with its reason) and outbox message of the customer, newest first."""
    customer = customer_service.get_readable(session=session, principal=principal, customer_no=customer_no)
    items, total = timeline.contacts(session, customer_id=customer.id, kind=kind, offset=page.offset,
                                     limit=page.page_size)
    return ContactItemPage(items=items, total=total, page=page.page, page_size=page.page_size)


# ---- dry-run decisions and receipts -------------------------------------------------------------------------

@router.post("/contacts/decide", response_model=DecideResponse, responses=ERR_422)
def decide(body: DecideRequest, session: SessionDep,
           principal: Annotated[Principal, require(Permission.campaigns_read)]) -> DecideResponse:
    """Would a contact be allowed now, and why not? Evaluates the live policy, consents, lists and history
    for customers in the caller's scope without recording anything."""
    now = datetime.now(UTC)
    campaign_id, ctype, priority, value = 0, body.campaign_type, body.priority, body.expected_value_fen
    if body.campaign_id is not None:
        campaign = session.get(Campaign, body.campaign_id)
        if campaign is None:
            raise NotFound("活动不存在", "Campaign not found", code="campaign_not_found")
        campaign_id, ctype, priority = campaign.id, campaign.campaign_type, campaign.priority
        value = campaign.expected_value_fen or value
    found = customer_lists.resolve_numbers(session, principal, body.customer_nos)
    proposals = [Proposal(campaign_id, "dry-run", cid, tuple(body.channels), ctype, priority, value, body.at or now)
                 for cid in found.values()]
    decisions = service.evaluate(session, proposals=proposals, now=now, dry_run=True)
    numbers = {cid: no for no, cid in found.items()}
    session.rollback()
    return DecideResponse(
        results=[DecideResult(customer_no=numbers[d.customer_id], outcome=d.outcome, channel=d.channel,
                              reason=d.reason, reason_zh=reasons.label(d.reason, "zh") or None,
                              reason_en=reasons.label(d.reason, "en") or None, defer_until=d.defer_until,
                              detail=d.detail) for d in decisions],
        unknown=[n for n in dict.fromkeys(body.customer_nos) if n not in found])


@router.post("/outbox/{outbox_id}/receipt", response_model=OutboxRead, responses=ERR_422)
def receipt(outbox_id: IdPath, body: ReceiptCreate, session: SessionDep, principal: Manager) -> OutboxRead:
    """A delivery receipt (for adapters and tests): delivered confirms the benefit grant; failed moves on to
    the next fallback channel after re-checking the policy, or releases the grant when none is left."""
    row = dispatch.receipt(session, outbox_id=outbox_id, status=body.status, error=body.error,
                           provider_message_id=body.provider_message_id)
    session.commit()
    return OutboxRead.model_validate(row)
