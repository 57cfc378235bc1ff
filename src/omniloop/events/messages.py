"""Segment-spec messages (埋点规范): parsing, validation and clock-skew correction, with no database.

A request is validated as a whole before anything is written: the first invalid message rejects the
request with its index and the reason. Hand-written checks rather than a Pydantic model per message,
because ingestion runs tens of thousands of messages a second.

Clock skew (Segment's rule): when ``sentAt`` is given (on the message or on the batch), the device clock
is assumed off by ``sentAt - receivedAt``, so ``ts = timestamp + (receivedAt - sentAt)``. Without
``sentAt``, ``ts = timestamp``; without ``timestamp`` either, ``ts = receivedAt``. The original timestamp,
``sentAt`` and ``receivedAt`` are all kept.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from omniloop.core.errors import OmniloopError

MAX_MESSAGE_BYTES = 32 * 1024  # Segment: 32 KB per call
MAX_BATCH_BYTES = 500 * 1024  # Segment: 500 KB per batch request
MAX_ID_LENGTH = 100
MAX_NAME_LENGTH = 200
TYPES = ("identify", "track", "page", "screen", "group", "alias")


class InvalidMessage(OmniloopError):
    code, status, message_zh, message_en = "invalid_message", 400, "事件消息不符合规范", "Invalid event message"


class InvalidBody(OmniloopError):
    code, status, message_zh, message_en = "invalid_body", 400, "请求体不是合法的 JSON", "Request body is not valid JSON"


class PayloadTooLarge(OmniloopError):
    code, status = "payload_too_large", 400
    message_zh, message_en = "请求体超过大小限制", "Payload exceeds the size limit"


@dataclass(slots=True)
class Message:
    """One validated message, normalised for storage (times UTC)."""

    message_id: str
    type: str
    name: str | None
    anonymous_id: str | None
    user_id: str | None
    ts: datetime
    sent_at: datetime | None
    received_at: datetime
    original_timestamp: datetime | None
    properties: dict | None
    context: dict | None
    previous_id: str | None = None  # alias
    index: int = 0

    @property
    def day(self) -> date:
        return self.ts.date()


def _fail(index: int | None, field: str | None, zh: str, en: str, *, code: str = "invalid_message") -> InvalidMessage:
    details: dict[str, Any] = {}
    if index is not None:
        details["index"] = index
    if field is not None:
        details["field"] = field
    prefix_zh = f"第 {index} 条消息：" if index is not None else ""
    prefix_en = f"message {index}: " if index is not None else ""
    return InvalidMessage(prefix_zh + zh, prefix_en + en, code=code, details=details or None)


def _id(value: Any, index: int | None, field: str) -> str | None:
    """Segment ids are strings; SDKs may send numbers, which are stringified as Segment does."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _fail(index, field, f"{field} 必须是字符串", f"{field} must be a string")
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_ID_LENGTH:
        raise _fail(index, field, f"{field} 超过 {MAX_ID_LENGTH} 个字符", f"{field} is longer than {MAX_ID_LENGTH}")
    return text


def _object(value: Any, index: int | None, field: str) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _fail(index, field, f"{field} 必须是 JSON 对象", f"{field} must be a JSON object")
    return value


def parse_time(value: Any, index: int | None, field: str) -> datetime | None:
    """ISO 8601 text; a time without offset is read as UTC."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise _fail(index, field, f"{field} 必须是 ISO 8601 时间", f"{field} must be an ISO 8601 time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _fail(index, field, f"{field} 不是合法的 ISO 8601 时间", f"{field} is not a valid ISO 8601 time") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise _fail(index, field, f"{field} 超出范围", f"{field} is out of range") from None


def _name(value: Any, index: int | None, field: str, *, required: bool) -> str | None:
    if value is None or value == "":
        if required:
            raise _fail(index, field, f"缺少 {field}", f"{field} is required", code="missing_field")
        return None
    if not isinstance(value, str):
        raise _fail(index, field, f"{field} 必须是字符串", f"{field} must be a string")
    if len(value) > MAX_NAME_LENGTH:
        raise _fail(index, field, f"{field} 超过 {MAX_NAME_LENGTH} 个字符", f"{field} is longer than {MAX_NAME_LENGTH}")
    return value


def parse_message(raw: Any, *, received_at: datetime, batch_sent_at: datetime | None = None,
                  type_: str | None = None, index: int | None = None) -> Message:
    """Validate one message; ``type_`` is set by the single-message endpoints (/v1/track …)."""
    if not isinstance(raw, dict):
        raise _fail(index, None, "消息必须是 JSON 对象", "A message must be a JSON object")
    kind = type_ or raw.get("type")
    if kind not in TYPES:
        raise _fail(index, "type", "type 必须是 identify、track、page、screen、group 或 alias 之一",
                    "type must be one of identify, track, page, screen, group, alias")
    user_id = _id(raw.get("userId"), index, "userId")
    anonymous_id = _id(raw.get("anonymousId"), index, "anonymousId")
    previous_id = None
    if kind == "alias":
        previous_id = _id(raw.get("previousId"), index, "previousId")
        if previous_id is None or user_id is None:
            raise _fail(index, "previousId", "alias 需要 previousId 和 userId", "alias needs previousId and userId",
                        code="missing_id")
    elif user_id is None and anonymous_id is None:
        raise _fail(index, "userId", "userId 和 anonymousId 至少需要一个", "Either userId or anonymousId is required",
                    code="missing_id")
    message_id = _id(raw.get("messageId"), index, "messageId") or f"srv-{uuid.uuid4()}"

    properties = _object(raw.get("properties"), index, "properties")
    if kind == "track":
        name = _name(raw.get("event"), index, "event", required=True)
    elif kind in ("page", "screen"):
        name = _name(raw.get("name"), index, "name", required=False)
        category = raw.get("category")
        if category is not None:
            if not isinstance(category, str) or len(category) > MAX_NAME_LENGTH:
                raise _fail(index, "category", "category 必须是字符串", "category must be a string")
            properties = {**(properties or {}), "category": category} if "category" not in (properties or {}) else properties
    elif kind == "group":
        name = _id(raw.get("groupId"), index, "groupId")
        if name is None:
            raise _fail(index, "groupId", "group 需要 groupId", "group needs groupId", code="missing_id")
        properties = _object(raw.get("traits"), index, "traits")
    elif kind == "identify":
        name = None
        traits = _object(raw.get("traits"), index, "traits")
        # analytics.js puts identify traits in context.traits when none are given at the top level.
        properties = traits
    else:  # alias
        name = None
        properties = {"previousId": previous_id}
    context = _object(raw.get("context"), index, "context")
    if kind == "identify" and properties is None and context is not None and isinstance(context.get("traits"), dict):
        properties = context["traits"]

    timestamp = parse_time(raw.get("timestamp"), index, "timestamp")
    original = parse_time(raw.get("originalTimestamp"), index, "originalTimestamp")
    sent_at = parse_time(raw.get("sentAt"), index, "sentAt") or batch_sent_at
    # RudderStack's SDKs send originalTimestamp where Segment's send timestamp.
    event_time = timestamp or original
    if event_time is None:
        ts = received_at
    elif sent_at is not None:
        try:
            ts = event_time + (received_at - sent_at)
        except OverflowError:
            raise _fail(index, "sentAt", "时间校正超出范围", "Clock-skew correction is out of range") from None
    else:
        ts = event_time
    if not 1970 <= ts.year <= 9998:
        raise _fail(index, "timestamp", "事件时间超出范围", "Event time is out of range")
    return Message(message_id, kind, name, anonymous_id, user_id, ts, sent_at, received_at,
                   original or timestamp, properties, context, previous_id, index or 0)


def load_body(body: bytes, *, type_: str | None) -> dict:
    """Size limit and JSON parse of a whole /v1 request body (already decompressed).

    ``type_`` None means a /v1/batch body ``{"batch": [...], "sentAt": ..., "writeKey": ...}``.
    """
    limit = MAX_BATCH_BYTES if type_ is None else MAX_MESSAGE_BYTES
    if len(body) > limit:
        raise PayloadTooLarge(f"请求体超过 {limit // 1024} KB", f"Body is larger than {limit // 1024} KB",
                              details={"max_bytes": limit, "bytes": len(body)})
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidBody() from None
    if not isinstance(data, dict):
        raise InvalidBody("请求体必须是 JSON 对象", "The body must be a JSON object")
    return data


def body_write_key(data: dict) -> str | None:
    """The ``writeKey`` field of a body (Segment accepts it there as well as in the header)."""
    key = data.get("writeKey")
    return key if isinstance(key, str) and key else None


def parse_messages(data: dict, *, body_bytes: int, received_at: datetime, type_: str | None) -> list[Message]:
    """Every message of a loaded body, validated; the first invalid one raises with its index."""
    if type_ is not None:
        return [parse_message(data, received_at=received_at, type_=type_)]
    batch = data.get("batch")
    if not isinstance(batch, list):
        raise InvalidMessage("缺少 batch 数组", "The body needs a batch array", code="missing_field",
                             details={"field": "batch"})
    batch_sent_at = parse_time(data.get("sentAt"), None, "sentAt")
    check_sizes = body_bytes > MAX_MESSAGE_BYTES  # a smaller body cannot hold an oversized message
    messages = []
    for index, raw in enumerate(batch):
        if check_sizes:
            size = len(json.dumps(raw, ensure_ascii=False, separators=(",", ":")).encode())
            if size > MAX_MESSAGE_BYTES:
                raise PayloadTooLarge(f"第 {index} 条消息超过 32 KB", f"message {index} is larger than 32 KB",
                                      details={"index": index, "max_bytes": MAX_MESSAGE_BYTES, "bytes": size})
        messages.append(parse_message(raw, received_at=received_at, batch_sent_at=batch_sent_at, index=index))
    return messages
