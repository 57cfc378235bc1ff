"""The contact-policy engine (接触策略引擎): pure — plain data in, decisions out, no database.

``decide(customer, proposals, history, policy)`` answers, for every campaign that wants to contact one
customer, *allowed* (on which channel, when), *deferred* (allowed, but only after quiet hours end) or
*skipped* with a machine reason code (``contacts.reasons``) and an explanation in ``detail``.

Order of checks for one proposal, channel by channel in the proposal's fallback order:

1. do-not-disturb (global list) → skipped ``dnd`` before any channel;
   a campaign suppression list → ``suppressed_campaign``; a list for every channel → ``suppressed``;
2. per channel: channel suppression list, consent (``contacts.consent``), reachability;
3. quiet hours: the send time moves to the end of the quiet period (in the rule's time zone), possibly
   several times if rules chain; a moved contact is *deferred*, never dropped;
4. minimum interval and caps at that send time.
The first channel passing all checks is chosen; when none passes, the reason is the last channel's.

**Windows are rolling, not calendar**: "2 SMS a week" means at most 2 SMS in any 168 hours, so two SMS
on Sunday evening block Monday morning. Pending (not yet sent) contacts count too. A contact at time h
counts against a proposal at t when |t − h| < window, i.e. past and already planned future contacts —
slightly stricter than "the window ending at t", and it means no rolling window ever holds more than the
cap whatever order contacts are decided in.

**Arbitration** (优先级仲裁): proposals for one customer in one call are decided in order of campaign
priority (higher first), then expected value per contact (higher first), then campaign id (older first);
each allowed contact counts against the later ones. A proposal blocked only because of contacts chosen
earlier in the same call is skipped as ``outranked`` with the winning campaign(s) in ``detail.rivals``.
Contacts already in the history (including another campaign's pending outbox rows) are first come,
first served: a later, higher-priority campaign does not pre-empt them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from omniloop.contacts import consent
from omniloop.contacts.reasons import cap_code, interval_code

HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class Proposal:
    """One campaign wanting one customer on an occasion (``wave:<id>`` / ``firing:<id>``)."""

    campaign_id: int
    occasion: str
    customer_id: int
    channels: tuple[str, ...]  # fallback order; the first channel allowed is chosen
    campaign_type: str = "marketing"
    priority: int = 5
    expected_value_fen: int = 0
    at: datetime | None = None  # UTC send time; None = the evaluation time


@dataclass(slots=True)
class Decision:
    customer_id: int
    channel: str | None  # chosen channel; for skipped: the last channel tried (None if none was)
    outcome: str  # allowed | deferred | skipped
    reason: str | None  # machine code (contacts.reasons); quiet_hours for deferred
    defer_until: datetime | None = None
    detail: dict | None = None  # explanation: rule, limit, count, rivals, channels tried, rank
    campaign_id: int = 0
    occasion: str = ""
    at: datetime | None = None  # when the contact goes out (defer_until for deferred)
    fallback: tuple[str, ...] = ()  # the proposal's channels after the chosen one, for delivery fallback

    @property
    def contacts(self) -> bool:
        return self.outcome != "skipped"


@dataclass(slots=True)
class PastContact:
    """A contact in the history: sent, delivered or still pending in the outbox. ``ts`` is epoch seconds."""

    channel: str
    ts: float
    campaign_id: int = 0
    campaign_type: str = "marketing"
    occasion: str = ""

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.ts, UTC)


@dataclass(slots=True)
class CustomerContactState:
    """What the policy needs to know about one customer besides the history."""

    customer_id: int
    consents: dict[str, str] = field(default_factory=dict)  # channel → granted | withdrawn (latest row)
    dnd: bool = False
    suppressed_all: bool = False  # on a suppression list without channel or campaign
    suppressed_channels: frozenset[str] = frozenset()
    suppressed_campaigns: frozenset[int] = frozenset()
    has_phone: bool = True
    app_user: bool = True  # an app login this month: push can reach the customer


@dataclass(frozen=True, slots=True)
class CapRule:
    id: int
    name: str
    channel: str | None
    campaign_type: str | None
    window_hours: int
    max_contacts: int

    @property
    def code(self) -> str:
        return cap_code(self.window_hours, self.channel)


@dataclass(frozen=True, slots=True)
class IntervalRule:
    id: int
    name: str
    channel: str | None
    campaign_type: str | None
    hours: int

    @property
    def code(self) -> str:
        return interval_code(self.channel)


@dataclass(frozen=True, slots=True)
class QuietRule:
    id: int
    name: str
    channel: str | None
    start: time
    end: time
    timezone: str = "Asia/Shanghai"


def _matches(rule_value: str | None, value: str) -> bool:
    return rule_value is None or rule_value == value


class Policy:
    """The enabled rules, indexed by (channel, campaign type) once so ``decide`` only loops over what applies."""

    def __init__(self, caps: Iterable[CapRule] = (), intervals: Iterable[IntervalRule] = (),
                 quiet: Iterable[QuietRule] = ()) -> None:
        self.caps = tuple(caps)
        self.intervals = tuple(intervals)
        self.quiet = tuple(quiet)
        self._cache: dict[tuple[str, str], tuple] = {}

    @classmethod
    def from_rules(cls, rules: Iterable) -> Policy:
        """From ``ContactRule`` rows (or anything with the same attributes); disabled rules are left out."""
        caps, intervals, quiet = [], [], []
        for r in rules:
            if not getattr(r, "enabled", True):
                continue
            if r.kind == "cap":
                caps.append(CapRule(r.id, r.name, r.channel, r.campaign_type, r.window_hours, r.max_contacts))
            elif r.kind == "min_interval":
                intervals.append(IntervalRule(r.id, r.name, r.channel, r.campaign_type, r.min_interval_hours))
            elif r.kind == "quiet_hours":
                quiet.append(QuietRule(r.id, r.name, r.channel, r.quiet_start, r.quiet_end,
                                       r.timezone or "Asia/Shanghai"))
        return cls(caps, intervals, quiet)

    def rules_for(self, channel: str, campaign_type: str) -> tuple:
        key = (channel, campaign_type)
        found = self._cache.get(key)
        if found is None:
            found = (
                tuple(q for q in self.quiet if _matches(q.channel, channel)),
                tuple(r for r in self.intervals if _matches(r.channel, channel)
                      and _matches(r.campaign_type, campaign_type)),
                tuple(c for c in self.caps if _matches(c.channel, channel) and _matches(c.campaign_type, campaign_type)),
            )
            self._cache[key] = found
        return found

    @property
    def max_window_hours(self) -> int:
        return max([c.window_hours for c in self.caps] + [r.hours for r in self.intervals] + [0])


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def in_quiet_hours(rule: QuietRule, at: datetime) -> datetime | None:
    """The end of the quiet period ``at`` falls in (UTC), or None when ``at`` is outside it.

    Local time in the rule's zone; a period whose start is after its end crosses midnight
    (21:00–08:00 = 21:00 today to 08:00 tomorrow)."""
    zone = _zone(rule.timezone)
    local = at.astimezone(zone)
    t = local.time().replace(tzinfo=None)
    start, end = rule.start, rule.end
    if start == end:
        return None
    if start < end:
        inside = start <= t < end
        end_date = local.date()
    else:
        inside = t >= start or t < end
        end_date = local.date() + timedelta(days=1) if t >= start else local.date()
    if not inside:
        return None
    return datetime.combine(end_date, end, tzinfo=zone).astimezone(UTC)


_NEXT_ALLOWED: dict[tuple, datetime] = {}


def next_allowed(quiet: Sequence[QuietRule], at: datetime) -> datetime:
    """The earliest time ≥ ``at`` outside every quiet period (rules may chain). Memoised: a wave asks the
    same question for every customer."""
    key = (tuple(quiet), at)
    found = _NEXT_ALLOWED.get(key)
    if found is None:
        if len(_NEXT_ALLOWED) > 10_000:
            _NEXT_ALLOWED.clear()
        found = _NEXT_ALLOWED[key] = _next_allowed(quiet, at)
    return found


def _next_allowed(quiet: Sequence[QuietRule], at: datetime) -> datetime:
    for _ in range(8):
        moved = False
        for rule in quiet:
            end = in_quiet_hours(rule, at)
            if end is not None:
                at, moved = end, True
        if not moved:
            return at
    return at


def _ts(at: datetime) -> float:
    return at.timestamp()


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def _check_channel(customer: CustomerContactState, proposal: Proposal, channel: str, at: datetime,
                   history: Sequence[PastContact], chosen: list[tuple[PastContact, Proposal]],
                   policy: Policy) -> tuple[str | None, datetime, dict | None]:
    """(reason or None, send time, detail) for one channel of one proposal. The loops are written out
    (no helper calls) because this runs once per customer and channel in a wave."""
    if channel in customer.suppressed_channels:
        return "suppressed_channel", at, {"channel": channel}
    if not consent.allowed(channel, customer.consents.get(channel)):
        return "no_consent", at, {"channel": channel, "consent": customer.consents.get(channel)}
    if ((channel == "sms" or channel == "outbound_call") and not customer.has_phone) \
            or ((channel == "app_push" or channel == "in_app") and not customer.app_user):
        return "unreachable", at, {"channel": channel}
    quiet, intervals, caps = policy.rules_for(channel, proposal.campaign_type)
    send_at = next_allowed(quiet, at) if quiet else at
    t = send_at.timestamp()
    for rule in intervals:
        span = rule.hours * HOUR
        rc, rt = rule.channel, rule.campaign_type
        for past in history:
            if (rc is None or rc == past.channel) and (rt is None or rt == past.campaign_type) \
                    and -span < t - past.ts < span:
                return rule.code, send_at, {"rule_id": rule.id, "rule": rule.name, "hours": rule.hours,
                                            "last_contact": _iso(past.ts), "last_campaign_id": past.campaign_id}
        for past, rival in chosen:
            if (rc is None or rc == past.channel) and (rt is None or rt == past.campaign_type) \
                    and -span < t - past.ts < span:
                return "outranked", send_at, {"rule_id": rule.id, "rule": rule.name, "blocked_by": rule.code,
                                              "rivals": [_rival(rival)]}
    for rule in caps:
        span = rule.window_hours * HOUR
        rc, rt = rule.channel, rule.campaign_type
        count = 0
        for past in history:
            if (rc is None or rc == past.channel) and (rt is None or rt == past.campaign_type) \
                    and -span < t - past.ts < span:
                count += 1
        if count >= rule.max_contacts:
            return rule.code, send_at, {"rule_id": rule.id, "rule": rule.name, "window_hours": rule.window_hours,
                                        "limit": rule.max_contacts, "count": count, "rolling": True}
        if chosen:
            rivals = [rival for past, rival in chosen
                      if (rc is None or rc == past.channel) and (rt is None or rt == past.campaign_type)
                      and -span < t - past.ts < span]
            if count + len(rivals) >= rule.max_contacts:
                return "outranked", send_at, {"rule_id": rule.id, "rule": rule.name, "blocked_by": rule.code,
                                              "window_hours": rule.window_hours, "limit": rule.max_contacts,
                                              "count": count, "rivals": [_rival(r) for r in rivals]}
    return None, send_at, None


def _rival(p: Proposal) -> dict:
    return {"campaign_id": p.campaign_id, "priority": p.priority, "expected_value_fen": p.expected_value_fen}


def arbitration_key(p: Proposal) -> tuple:
    """Higher priority first, then higher expected value, then the older campaign."""
    return (-p.priority, -p.expected_value_fen, p.campaign_id)


def _decide_one(customer: CustomerContactState, p: Proposal, history: Sequence[PastContact], policy: Policy,
                at: datetime, chosen: list, arbitration: dict | None) -> Decision:
    def done(channel, outcome, reason, detail=None, defer=None, send_at=at, fallback=()):
        if arbitration is not None:
            detail = {**(detail or {}), "arbitration": arbitration}
        return Decision(p.customer_id, channel, outcome, reason, defer, detail, p.campaign_id, p.occasion,
                        send_at, fallback)

    for h in history:
        if h.campaign_id == p.campaign_id and h.occasion == p.occasion:
            # A re-run: this occasion was already decided and recorded for the campaign.
            return done(h.channel, "allowed", None, {"already_recorded": True},
                        send_at=datetime.fromtimestamp(h.ts, UTC))
    if customer.dnd:
        return done(None, "skipped", "dnd")
    if p.campaign_id in customer.suppressed_campaigns:
        return done(None, "skipped", "suppressed_campaign")
    if customer.suppressed_all:
        return done(None, "skipped", "suppressed")
    if not p.channels:
        return done(None, "skipped", "no_channel")
    tried = []
    for n, channel in enumerate(p.channels):
        reason, send_at, detail = _check_channel(customer, p, channel, at, history, chosen, policy)
        if reason is None:
            chosen.append((PastContact(channel, send_at.timestamp(), p.campaign_id, p.campaign_type, p.occasion), p))
            rest = p.channels[n + 1:]
            extra = {"tried": tried} if tried else None
            if send_at != at:
                return done(channel, "deferred", "quiet_hours", {**(extra or {}), "proposed_at": at.isoformat()},
                            defer=send_at, send_at=send_at, fallback=rest)
            return done(channel, "allowed", None, extra, fallback=rest)
        tried.append({"channel": channel, "reason": reason, **(detail or {})})
    last = tried[-1]
    detail = {k: v for k, v in last.items() if k not in ("channel", "reason")}
    if len(tried) > 1:
        detail["tried"] = tried
    return done(last["channel"], "skipped", last["reason"], detail)


def decide(customer: CustomerContactState, proposals: Sequence[Proposal], history: Sequence[PastContact],
           policy: Policy, *, now: datetime | None = None) -> list[Decision]:
    """One decision per proposal, in the order of ``proposals``. ``now`` stands in for a proposal without ``at``."""
    now = now or datetime.now(UTC)
    if len(proposals) == 1:
        p = proposals[0]
        return [_decide_one(customer, p, history, policy, p.at or now, [], None)]
    order = sorted(range(len(proposals)), key=lambda i: arbitration_key(proposals[i]))
    results: list[Decision | None] = [None] * len(proposals)
    chosen: list[tuple[PastContact, Proposal]] = []
    seen: set[tuple[int, str]] = set()
    for rank, i in enumerate(order, start=1):
        p = proposals[i]
        arbitration = {"rank": rank, "of": len(proposals)}
        key = (p.campaign_id, p.occasion)
        if key in seen:
            results[i] = Decision(p.customer_id, None, "skipped", "duplicate", None, {"arbitration": arbitration},
                                  p.campaign_id, p.occasion, p.at or now)
            continue
        seen.add(key)
        results[i] = _decide_one(customer, p, history, policy, p.at or now, chosen, arbitration)
    return results  # type: ignore[return-value]
