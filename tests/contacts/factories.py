"""Factories for contact-control tests: campaigns (with their plan), rules, lists, consents, outbox history."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time

from sqlalchemy.orm import Session

from omniloop.campaigns.models import Campaign
from omniloop.contacts.models import (
    ContactRule,
    CustomerConsent,
    OutboxMessage,
    SuppressionEntry,
    SuppressionList,
)
from omniloop.org.models import Org
from omniloop.plans.models import Plan

_seq = itertools.count(1)


def create_campaign(session: Session, org: Org, *, priority: int = 5, campaign_type: str = "marketing",
                    expected_value_fen: int | None = None, channels=("sms",), fallback_timeout_minutes: int = 30,
                    **fields) -> Campaign:
    n = next(_seq)
    plan = Plan(title=f"方案{n}", owner_org_id=org.id, status="approved", version=1, approved_version=1)
    session.add(plan)
    session.flush()
    campaign = Campaign(code=f"T-{n:05d}", name=f"活动{n}", plan_id=plan.id, plan_version=1, owner_org_id=org.id,
                        status="running", priority=priority, campaign_type=campaign_type,
                        expected_value_fen=expected_value_fen, channels=list(channels),
                        fallback_timeout_minutes=fallback_timeout_minutes, **fields)
    session.add(campaign)
    session.flush()
    return campaign


def cap(session: Session, *, channel: str | None, window_hours: int, max_contacts: int, campaign_type=None,
        name: str = "cap") -> ContactRule:
    rule = ContactRule(kind="cap", name=name, channel=channel, window_hours=window_hours, max_contacts=max_contacts,
                       campaign_type=campaign_type)
    session.add(rule)
    session.flush()
    return rule


def quiet(session: Session, *, channel: str | None, start=time(21), end=time(8)) -> ContactRule:
    rule = ContactRule(kind="quiet_hours", name="夜间免打扰", channel=channel, quiet_start=start, quiet_end=end)
    session.add(rule)
    session.flush()
    return rule


def suppression_list(session: Session, org: Org, customer_ids, *, kind: str = "suppression", channel=None,
                     campaign_id=None, name: str = "名单") -> SuppressionList:
    lst = SuppressionList(name=name, kind=kind, channel=channel, campaign_id=campaign_id, owner_org_id=org.id,
                          entry_count=len(customer_ids))
    session.add(lst)
    session.flush()
    session.add_all([SuppressionEntry(list_id=lst.id, customer_id=c) for c in customer_ids])
    session.flush()
    return lst


def consent(session: Session, customer_id: int, channel: str, status: str, *, at: datetime | None = None):
    row = CustomerConsent(customer_id=customer_id, channel=channel, status=status, source="console",
                          recorded_at=at or datetime.now(UTC))
    session.add(row)
    session.flush()
    return row


def sent(session: Session, campaign: Campaign, customer_id: int, channel: str, at: datetime, *,
         occasion: str = "wave:0", status: str = "delivered") -> OutboxMessage:
    row = OutboxMessage(campaign_id=campaign.id, occasion=occasion, customer_id=customer_id, channel=channel,
                        status=status, not_before=at, sent_at=at if status in ("sent", "delivered") else None,
                        created_at=at)
    session.add(row)
    session.flush()
    return row
