"""Segment-compatible ingestion API (``/v1/identify``, ``/track``, ``/page``, ``/screen``, ``/group``,
``/alias``, ``/batch``): any Segment or RudderStack SDK works by pointing its host here.

Authentication is the source's write key as the HTTP basic user name (password empty), or ``writeKey`` in
the body. Bodies may be gzip-compressed (``Content-Encoding: gzip``). The whole request is validated
first; one bad message rejects it with 400, its index and the reason, and nothing is written. The
answer ``{"success": true}`` comes only after the events have been committed.

Errors carry ``code`` and ``message`` at the top level, where Segment clients look for them, besides the
platform's ``error`` object (``{"success": false, "code", "message", "error": {...}}``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import threading
import zlib
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from omniloop.core.errors import OmniloopError, error_body
from omniloop.core.i18n import negotiate
from omniloop.core.input_guard import _nul_paths
from omniloop.events import messages
from omniloop.events.schemas import IngestAccepted
from omniloop.events.writer import IngestWriter

log = logging.getLogger("omniloop.events")


def segment_error_body(code: str, message_zh: str, message_en: str, details: Any, lang: str) -> dict:
    """The platform's error object plus ``success``, ``code`` and ``message`` at the top level."""
    body = error_body(code, message_zh, message_en, details, lang)
    return {"success": False, "code": code, "message": body["error"]["message"], **body}


class SegmentRoute(APIRoute):
    """Renders the errors of a /v1 route in the Segment-compatible shape."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except OmniloopError as exc:
                lang = negotiate(request.headers.get("accept-language"))
                headers = {"WWW-Authenticate": 'Basic realm="write key"'} if exc.status == 401 else None
                return JSONResponse(segment_error_body(exc.code, exc.message_zh, exc.message_en, exc.details, lang),
                                    status_code=exc.status, headers=headers)
            except Exception:
                log.exception("unhandled error in /v1 ingestion")
                lang = negotiate(request.headers.get("accept-language"))
                details = {"request_id": getattr(request.state, "request_id", None)}
                return JSONResponse(segment_error_body("internal_error", "服务器内部错误，请稍后重试",
                                                       "Internal server error, please retry later", details, lang),
                                    status_code=500)

        return route


router = APIRouter(prefix="/v1", tags=["ingest"], route_class=SegmentRoute)

ERRORS = {
    400: {"description": "Invalid JSON, a message that breaks the spec (details: index, field), or too large"},
    401: {"description": "Missing, wrong or disabled write key"},
    422: {"description": "A text contains a NUL character (rejected like everywhere in the API)"},
}
_MESSAGE = {
    "type": "object", "additionalProperties": True,
    "description": "A Segment-spec message (https://segment.com/docs/connections/spec/). userId or anonymousId "
                   "is required; messageId dedupes retries; timestamp/sentAt are corrected for clock skew.",
    "example": {"userId": "C0000000001", "event": "绑卡完成", "properties": {"flow_id": "f-1"}, "messageId": "m-1"},
}
_BATCH = {
    "type": "object", "additionalProperties": True, "required": ["batch"],
    "properties": {"batch": {"type": "array", "items": {**_MESSAGE, "description": "a message with its type"}},
                   "sentAt": {"type": "string", "format": "date-time"}, "writeKey": {"type": "string"}},
}


def header_write_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return decoded.split(":", 1)[0] or None


async def read_body(request: Request, *, limit: int) -> bytes:
    """The request body, gunzipped if needed, never more than ``limit + 1`` bytes (a gzip bomb stops early)."""
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                break
        return bytes(body)
    if encoding != "gzip":
        raise messages.InvalidBody("不支持的内容编码", "Unsupported Content-Encoding (use gzip or none)",
                                   code="unsupported_encoding", details={"content_encoding": encoding})
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += inflater.decompress(chunk, limit + 1 - len(body))
            if len(body) > limit:
                break
        else:
            body += inflater.flush()
            if not inflater.eof:
                raise zlib.error("truncated")
    except zlib.error:
        raise messages.InvalidBody("gzip 数据损坏", "Corrupt gzip body", code="invalid_gzip") from None
    return bytes(body)


def _reject_nul(data: Any) -> None:
    """The input guard lets /v1 bodies through unread; NUL is rejected here, after decompression and parsing."""
    paths = _nul_paths(data, [])
    if paths:
        raise OmniloopError("输入包含不允许的控制字符（NUL）", "Input contains a forbidden control character (NUL)",
                            code="invalid_character", status=422,
                            details=[{"loc": ["body", *p], "type": "invalid_character"} for p in paths])


async def _ingest(request: Request, type_: str | None) -> IngestAccepted:
    received_at = request.app.state.clock.now()
    limit = messages.MAX_BATCH_BYTES if type_ is None else messages.MAX_MESSAGE_BYTES
    body = await read_body(request, limit=limit)
    data = messages.load_body(body, type_=type_)
    if b"\\u0000" in body:
        _reject_nul(data)
    key = header_write_key(request) or messages.body_write_key(data)
    parsed = messages.parse_messages(data, body_bytes=len(body), received_at=received_at, type_=type_)

    await asyncio.wrap_future(_writer(request.app).submit(key, parsed))
    return _ACCEPTED


_ACCEPTED = IngestAccepted()
_writer_lock = threading.Lock()


def _writer(app) -> IngestWriter:
    """The app's ingest writer (group commit), made on first use."""
    writer = getattr(app.state, "ingest_writer", None)
    if writer is None:
        with _writer_lock:
            writer = getattr(app.state, "ingest_writer", None)
            if writer is None:
                writer = app.state.ingest_writer = IngestWriter(app.state.session_factory, app.state.engine)
    return writer


def _route(type_: str | None, summary: str):
    # No body parameter: the body is read raw here (gzip, size limits, write key in it), and its schema is
    # given to OpenAPI by hand.
    async def endpoint(request: Request) -> IngestAccepted:
        return await _ingest(request, type_)

    endpoint.__name__ = f"ingest_{type_ or 'batch'}"
    endpoint.__doc__ = summary
    return endpoint


_SUMMARIES = {
    "identify": "Identify a user (and link the anonymous id to the customer) 识别用户",
    "track": "Track an event 上报事件",
    "page": "Record a web page view 页面浏览",
    "screen": "Record an app screen view 屏幕浏览",
    "group": "Associate the user with a group 关联群组",
    "alias": "Link two ids of the same user 关联身份",
    None: "Send many messages at once (≤ 500 KB, each ≤ 32 KB) 批量上报",
}

for _type, _summary in _SUMMARIES.items():
    router.add_api_route(f"/{_type or 'batch'}", _route(_type, _summary), methods=["POST"],
                         response_model=IngestAccepted, responses=ERRORS, summary=_summary,
                         description="Write key as the HTTP basic auth user name (password empty), or "
                                     "`writeKey` in the body. `Content-Encoding: gzip` is accepted.",
                         openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                             "schema": _BATCH if _type is None else _MESSAGE}}}})
