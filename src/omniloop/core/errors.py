"""One error type for the whole platform and the handlers that render it.

Every error reaches the client as ``{"error": {"code", "message", "message_zh", "message_en", "details"}}``
where ``message`` is in the request's language (Accept-Language; Chinese by default).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from omniloop.core.i18n import negotiate


class OmniloopError(Exception):
    code = "error"
    status = 400
    message_zh = "请求错误"
    message_en = "Bad request"

    def __init__(
        self,
        message_zh: str | None = None,
        message_en: str | None = None,
        *,
        code: str | None = None,
        status: int | None = None,
        details: Any = None,
    ) -> None:
        self.message_zh = message_zh or self.message_zh
        self.message_en = message_en or self.message_en
        self.code = code or self.code
        self.status = status or self.status
        self.details = details
        super().__init__(self.message_en)


class NotFound(OmniloopError):
    code, status, message_zh, message_en = "not_found", 404, "记录不存在", "Not found"


class Conflict(OmniloopError):
    code, status, message_zh, message_en = "conflict", 409, "数据冲突", "Conflict"


class ValidationFailed(OmniloopError):
    code, status, message_zh, message_en = "validation_error", 422, "输入校验失败", "Validation failed"


class Unauthenticated(OmniloopError):
    code, status, message_zh, message_en = "unauthenticated", 401, "请先登录", "Authentication required"


class Forbidden(OmniloopError):
    code, status, message_zh, message_en = "forbidden", 403, "无权执行此操作", "Permission denied"


class ErrorDetail(BaseModel):
    code: str = Field(description="machine-readable error code, e.g. not_found, validation_error")
    message: str = Field(description="message in the request's language (Accept-Language; Chinese by default)")
    message_zh: str
    message_en: str
    details: Any = None


class ErrorResponse(BaseModel):
    """The one error shape every 4xx/5xx response has."""

    error: ErrorDetail


def document_errors(openapi: dict) -> dict:
    """Make the OpenAPI document describe the error bodies we really send on every 4xx response."""
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorDetail"] = ErrorDetail.model_json_schema()
    schemas["ErrorResponse"] = {
        "title": "ErrorResponse", "type": "object", "required": ["error"],
        "properties": {"error": {"$ref": "#/components/schemas/ErrorDetail"}},
        "description": ErrorResponse.__doc__,
    }
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    for operations in openapi.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                if status.startswith("4") or status.startswith("5"):
                    response["content"] = ref
                    if status == "422" and response.get("description") == "Validation Error":
                        response["description"] = "Validation failed (details: one entry per field)"
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return openapi


def error_body(code: str, message_zh: str, message_en: str, details: Any, lang: str) -> dict:
    return {
        "error": {
            "code": code,
            "message": message_en if lang == "en" else message_zh,
            "message_zh": message_zh,
            "message_en": message_en,
            "details": details,
        }
    }


def _lang(request: Request) -> str:
    return negotiate(request.headers.get("accept-language"))


def _validation_details(exc: RequestValidationError) -> list[dict]:
    details = []
    for err in exc.errors():
        details.append(
            {
                "loc": [str(p) for p in err.get("loc", ())],
                "type": err.get("type"),
                "msg": err.get("msg"),
            }
        )
    return details


_HTTP_MESSAGES = {
    401: ("unauthenticated", "请先登录", "Authentication required"),
    403: ("forbidden", "无权执行此操作", "Permission denied"),
    404: ("not_found", "资源不存在", "Not found"),
    405: ("method_not_allowed", "不支持的请求方法", "Method not allowed"),
    413: ("payload_too_large", "请求体过大", "Payload too large"),
    415: ("unsupported_media_type", "不支持的内容类型", "Unsupported media type"),
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(OmniloopError)
    async def _omniloop_error(request: Request, exc: OmniloopError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(
            error_body(exc.code, exc.message_zh, exc.message_en, exc.details, _lang(request)),
            status_code=exc.status,
            headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            error_body(
                "validation_error", "输入校验失败", "Validation failed", _validation_details(exc), _lang(request)
            ),
            status_code=422,
        )

    @app.exception_handler(DataError)
    async def _data_error(request: Request, exc: DataError) -> JSONResponse:
        # A value the database refuses (out of range, bad encoding) is the client's input, not our crash.
        return JSONResponse(
            error_body("invalid_value", "输入值超出数据库允许的范围或格式", "A value is out of range or malformed",
                       None, _lang(request)),
            status_code=422,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logging.getLogger("omniloop").exception("unhandled error")
        return JSONResponse(
            error_body("internal_error", "服务器内部错误，请稍后重试", "Internal server error, please retry later",
                       {"request_id": getattr(request.state, "request_id", None)}, _lang(request)),
            status_code=500,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # The framework raises 400 only when it cannot parse a body at all (e.g. not UTF-8); our own
            # code raises OmniloopError. Report it like malformed JSON: 422 with a machine-readable code.
            return JSONResponse(
                error_body("invalid_body", "请求体无法解析", "Request body cannot be parsed", exc.detail,
                           _lang(request)),
                status_code=422,
            )
        code, zh, en = _HTTP_MESSAGES.get(exc.status_code, ("http_error", "请求错误", "Request error"))
        detail = exc.detail if isinstance(exc.detail, str | dict | list) else None
        return JSONResponse(
            error_body(code, zh, en, detail, _lang(request)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )
