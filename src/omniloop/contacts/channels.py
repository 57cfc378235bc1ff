"""Channel adapters (渠道适配器): the one interface the outbox dispatcher sends through.

An adapter gets a batch of outbox messages of its channel (rendered payload included) and answers one
``SendResult`` per message: ``sent`` (accepted by the provider; a delivery receipt may follow through
``contacts.dispatch.receipt``), ``delivered`` (final) or ``failed`` (the dispatcher moves on to the
next fallback channel). Adapters must be idempotent per ``outbox_id`` (providers take it as the
client message id), because a crash between the provider's answer and our commit sends the batch again.

Until the delivery issue's real adapters land, **every channel uses the built-in ``sink`` adapter**,
which marks messages delivered without sending anything, so the loop runs end to end. Real adapters
register themselves with ``register(channel, adapter)``; ``adapter_for`` falls back to the sink.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class OutgoingMessage:
    outbox_id: int
    campaign_id: int
    customer_id: int
    channel: str
    payload: dict | None  # rendered subject / body / fields (PII masked)
    attempt: int


@dataclass(frozen=True)
class SendResult:
    outbox_id: int
    status: str  # sent | delivered | failed
    provider_message_id: str | None = None
    error: str | None = None


class ChannelAdapter(Protocol):
    name: str

    def send(self, messages: list[OutgoingMessage]) -> list[SendResult]: ...


@dataclass
class SinkAdapter:
    """Accepts everything and reports it delivered; remembers what it got (tests read ``received``)."""

    name: str = "sink"
    received: list[OutgoingMessage] = field(default_factory=list)
    keep: int = 1000

    def send(self, messages: list[OutgoingMessage]) -> list[SendResult]:
        self.received.extend(messages)
        del self.received[:-self.keep]
        return [SendResult(m.outbox_id, "delivered", f"sink-{m.outbox_id}") for m in messages]


SINK = SinkAdapter()
_ADAPTERS: dict[str, ChannelAdapter] = {}


def register(channel: str, adapter: ChannelAdapter) -> None:
    _ADAPTERS[channel] = adapter


def unregister(channel: str) -> None:
    _ADAPTERS.pop(channel, None)


def adapter_for(channel: str) -> ChannelAdapter:
    return _ADAPTERS.get(channel, SINK)


def registered() -> dict[str, str]:
    """Channel → adapter name, for every known channel (the console shows which are real)."""
    from omniloop.contacts.models import CHANNELS

    return {c: adapter_for(c).name for c in CHANNELS}
