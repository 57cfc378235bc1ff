"""Per-channel consent defaults (营销授权默认规则, PIPL).

The latest ``customer_consents`` row per (customer, channel) is the customer's current choice; a new row
takes effect for the next decision (no cache). Without a row, the channel's default below applies:

| channel   | no consent row | withdrawn | granted | reachable only if          |
|-----------|----------------|-----------|---------|----------------------------|
| sms       | allowed        | blocked   | allowed | the customer has a phone   |
| app_push  | allowed        | blocked   | allowed | an app login this month    |
| in_app    | allowed        | blocked   | allowed | an app login this month    |
| wechat    | allowed        | blocked   | allowed | —                          |
| wecom     | allowed        | blocked   | allowed | —                          |
| outbound_call | allowed    | blocked   | allowed | the customer has a phone   |
| email     | **blocked**    | blocked   | allowed | —                          |
| rm_task   | allowed        | allowed   | allowed | — (a banker's own contact) |
| webhook   | allowed        | blocked   | allowed | — (a partner system)       |
| sink      | allowed        | blocked   | allowed | —                          |

Why: SMS, push and WeChat are opt-out channels for existing customers who accepted the bank's service
terms (which include marketing notices), so only a withdrawal blocks them; marketing e-mail needs an
explicit opt-in. An RM task is not a message to the customer but work for the relationship manager, so a
withdrawal of electronic marketing does not stop it — only do-not-disturb does.
The channel ``all`` withdraws (or grants) every channel at once; a channel's own newer row wins.
"""

from __future__ import annotations

REQUIRES_GRANT = frozenset({"email"})
IGNORES_CONSENT = frozenset({"rm_task"})
CONSENT_STATUSES = ("granted", "withdrawn")
CONSENT_SOURCES = ("app", "web", "branch", "sms_reply", "console", "import", "api")


def allowed(channel: str, status: str | None) -> bool:
    """Whether a channel may be used given the customer's current consent status for it (None = no row)."""
    if channel in IGNORES_CONSENT:
        return True
    if status is None:
        return channel not in REQUIRES_GRANT
    return status == "granted"


def table() -> list[dict]:
    """The defaults as data (shown in the console)."""
    from omniloop.contacts.models import CHANNELS

    return [{"channel": c, "default": "blocked" if c in REQUIRES_GRANT else "allowed",
             "withdrawal_blocks": c not in IGNORES_CONSENT} for c in CHANNELS]
