"""Campaign configuration (要素配置, D2–D8): checking and applying the wizard's steps.

Every check that needs the database answers 422 ``invalid_campaign_config`` with one problem per field
(``loc``, ``code``, Chinese and English message), so the wizard can mark each step. Which fields may
change depends on the status: everything in draft / ready; in a paused campaign only what does not
change who is in which cell (channels, templates, suppression lists, priority, information).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from omniloop.audiences import service as audience_service
from omniloop.audiences.engine import AudienceEngine, NoTagset
from omniloop.audiences.expression import parse_expression
from omniloop.benefits.models import Benefit
from omniloop.campaigns import assignment
from omniloop.campaigns.models import Campaign, CampaignWave
from omniloop.campaigns.schemas import ConfigUpdate
from omniloop.contacts.models import CHANNELS, SuppressionList
from omniloop.content.models import MessageTemplate
from omniloop.core import audit
from omniloop.core.db import utcnow
from omniloop.core.errors import Conflict, NotFound, OmniloopError, ValidationFailed
from omniloop.org.auth import Principal
from omniloop.success.models import SuccessRule
from omniloop.triggers import service as trigger_service

EDITABLE_STATUSES = ("draft", "ready", "paused")
# In a paused campaign these would re-cut the cells or the audience of a wave already under way.
LOCKED_WHEN_PAUSED = ("mode", "audience_id", "trigger_id", "filters", "test_pct", "control_pct", "benefit_id",
                      "start_date")


class NotEditable(Conflict):
    code = "campaign_not_editable"
    message_zh = "活动当前状态下不能修改配置"
    message_en = "The campaign's configuration cannot change in its current status"


def _problem(problems: list[dict], field: str, code: str, zh: str, en: str, *extra: str | int) -> None:
    problems.append({"loc": ["body", field, *extra], "code": code, "msg": en, "msg_zh": zh})


def _check(session: Session, principal: Principal, campaign: Campaign, values: dict[str, Any],
           engine: AudienceEngine | None) -> list[dict]:
    problems: list[dict] = []
    if values.get("audience_id") is not None:
        try:
            audience = audience_service.get_visible(session=session, principal=principal,
                                                    audience_id=values["audience_id"])
            if audience.archived:
                _problem(problems, "audience_id", "audience_archived", "人群已归档", "The audience is archived")
        except NotFound:
            _problem(problems, "audience_id", "audience_not_found", "人群不存在或不在您的管辖范围内",
                     "The audience does not exist or is outside your scope")
    if values.get("trigger_id") is not None:
        try:
            trigger = trigger_service.get_visible(session=session, principal=principal,
                                                  trigger_id=values["trigger_id"])
            if trigger.status == "archived":
                _problem(problems, "trigger_id", "trigger_archived", "触发器已归档", "The trigger is archived")
        except NotFound:
            _problem(problems, "trigger_id", "trigger_not_found", "触发器不存在", "The trigger does not exist")
    if values.get("filters"):
        try:
            if engine is not None:
                engine.prepare(session, principal, values["filters"])
            else:
                parse_expression(values["filters"])
        except NoTagset:
            parse_expression(values["filters"])
        except OmniloopError as exc:
            _problem(problems, "filters", "invalid_filters", "过滤条件无效：" + exc.message_zh,
                     "Invalid filters: " + exc.message_en)
        except ValueError as exc:
            _problem(problems, "filters", "invalid_filters", "过滤条件无效", f"Invalid filters: {exc}")
    channels = values.get("channels")
    if channels is not None:
        for i, channel in enumerate(channels):
            if channel not in CHANNELS:
                _problem(problems, "channels", "unknown_channel", f"未知渠道“{channel}”", f"Unknown channel {channel!r}", i)
        if len(set(channels)) != len(channels):
            _problem(problems, "channels", "duplicate_channel", "渠道不能重复", "A channel appears twice")
    templates = values.get("template_ids")
    if templates is not None:
        for channel, template_id in templates.items():
            template = session.get(MessageTemplate, template_id)
            if template is None or template.status != "active":
                _problem(problems, "template_ids", "template_not_found", "话术模板不存在或已归档",
                         "The message template does not exist or is archived", channel)
            elif template.channel != channel:
                _problem(problems, "template_ids", "template_channel_mismatch",
                         f"模板“{template.name}”属于渠道 {template.channel}，不能用于 {channel}",
                         f"Template {template.name!r} is for {template.channel}, not {channel}", channel)
            elif channel not in (channels if channels is not None else campaign.channels or []):
                _problem(problems, "template_ids", "template_for_unused_channel", "该渠道未选用",
                         "The channel is not in the fallback order", channel)
    if values.get("benefit_id") is not None:
        benefit = session.get(Benefit, values["benefit_id"])
        if benefit is None:
            _problem(problems, "benefit_id", "benefit_not_found", "权益不存在", "The benefit does not exist")
        elif benefit.status != "active":
            _problem(problems, "benefit_id", "benefit_inactive", "权益未启用", "The benefit is not active")
    if values.get("success_rule_id") is not None and session.get(SuccessRule, values["success_rule_id"]) is None:
        _problem(problems, "success_rule_id", "success_rule_not_found", "成效规则不存在",
                 "The success rule does not exist")
    for i, list_id in enumerate(values.get("suppression_list_ids") or []):
        found = session.get(SuppressionList, list_id)
        if found is None or found.campaign_id not in (None, campaign.id):
            _problem(problems, "suppression_list_ids", "suppression_list_not_found", "屏蔽名单不存在",
                     "The suppression list does not exist", i)
    return problems


def missing(campaign: Campaign, session: Session | None = None) -> list[str]:
    """What the campaign still needs before it can be ready (machine codes, in wizard order)."""
    needed = []
    if campaign.mode == "triggered" and campaign.trigger_id is None:
        needed.append("trigger_id")
    if campaign.mode != "triggered" and campaign.audience_id is None:
        needed.append("audience_id")
    if not campaign.channels:
        needed.append("channels")
    for channel in campaign.channels or []:
        if not (campaign.template_ids or {}).get(channel):
            needed.append(f"template_ids.{channel}")
    if session is not None and campaign.mode == "batch":
        waves = session.scalar(select(CampaignWave.id).where(CampaignWave.campaign_id == campaign.id,
                                                             CampaignWave.kind == "full").limit(1))
        if waves is None:
            needed.append("waves")
    return needed


def update_config(*, session: Session, principal: Principal, campaign: Campaign, data: ConfigUpdate,
                  engine: AudienceEngine | None = None) -> Campaign:
    """Apply the fields sent; audited. A ready campaign whose configuration becomes incomplete is a draft again."""
    if campaign.status not in EDITABLE_STATUSES:
        raise NotEditable(details={"status": campaign.status})
    changes = data.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] is None:
        del changes["name"]
    if campaign.status == "paused":
        locked = [k for k in changes if k in LOCKED_WHEN_PAUSED and changes[k] != getattr(campaign, k)]
        if locked:
            raise NotEditable("活动暂停中，不能修改人群、模式、权益或分组比例", "While paused, the audience, mode, "
                              "benefit and cell shares cannot change", code="field_locked_while_paused",
                              details={"fields": locked})
    merged = {key: getattr(campaign, key) for key in ConfigUpdate.model_fields} | changes
    problems = _check(session, principal, campaign, {k: changes[k] for k in changes}, engine)
    if "channels" in changes and "template_ids" not in changes:
        stale = [c for c in (campaign.template_ids or {}) if c not in (changes["channels"] or [])]
        if stale:  # dropping a channel drops its template
            changes["template_ids"] = {c: t for c, t in campaign.template_ids.items() if c not in stale}
    start, end = merged.get("start_date"), merged.get("end_date")
    if start and end and end < start:
        _problem(problems, "end_date", "end_before_start", "结束日期不能早于开始日期",
                 "The end date cannot be before the start date")
    if merged.get("mode") == "triggered" and "trigger_id" not in changes and merged.get("trigger_id") is None \
            and "mode" in changes:
        _problem(problems, "trigger_id", "trigger_required", "事件触发模式需要选择触发器",
                 "Event-triggered mode needs a trigger")
    if (merged.get("test_pct") or 0) + (merged.get("control_pct") or 0) > 60:
        _problem(problems, "control_pct", "cells_too_large", "试点组与对照组合计不能超过 60%",
                 "Test cell and control group together cannot exceed 60 %")
    if problems:
        raise ValidationFailed("活动配置有误", "The campaign configuration has problems",
                               code="invalid_campaign_config", details=problems)
    before = audit.snapshot(campaign)
    for key, value in changes.items():
        setattr(campaign, key, value)
    if campaign.assignment_salt is None:
        campaign.assignment_salt = assignment.new_salt()
    campaign.updated_at = utcnow()
    session.flush()
    if campaign.status == "ready" and missing(campaign, session):
        campaign.status = "draft"
    audit.record(session, actor=principal.actor, action="campaign.configure", entity_type="campaign",
                 entity_id=campaign.id, before=before, after=audit.snapshot(campaign))
    return campaign
