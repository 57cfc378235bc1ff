"""Rejects text that no database can store: NUL characters in the path, query string or JSON body.

PostgreSQL refuses NUL in text columns while SQLite stores it, so without this guard the same request
would fail on one backend and silently store junk on the other. It is a pure ASGI middleware so the
JSON body can be inspected and replayed without consuming the stream.

The Segment-compatible ingestion API (``/v1``) reads its bodies itself (gzip, size limits) and rejects
NUL after parsing, so its bodies pass through unbuffered; its path and query are still checked here, and
its error bodies also carry ``code`` and ``message`` at the top level as Segment clients expect.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from starlette.routing import compile_path

from omniloop.core.errors import error_body
from omniloop.core.i18n import negotiate

_MESSAGE = ("输入包含不允许的控制字符（NUL）", "Input contains a forbidden control character (NUL)")


def _nul_paths(value, path: list) -> list[list]:
    """JSON paths of the strings (keys or values) in ``value`` that contain NUL."""
    if isinstance(value, str):
        return [path] if "\x00" in value else []
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            found += [path + [key]] if "\x00" in key else _nul_paths(item, path + [key])
        return found
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _nul_paths(item, path + [i])]
    return []


class InputGuardMiddleware:
    """``routes`` is the application whose routes name the path parameters in the error details."""

    def __init__(self, app, routes=None) -> None:
        self.app = app
        self.routes = routes
        self._templates = None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        locations = self._path_locations(scope) + [
            ["query", key] for key, value in parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                                                      keep_blank_values=True)
            if "\x00" in key or "\x00" in value
        ]
        if locations:
            await self._reject(send, headers, locations, segment=_is_ingest(scope))
            return
        content_type = headers.get(b"content-type", b"").lower()
        if not content_type.startswith(b"application/json") or _is_ingest(scope):
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message]), send)
                return
            chunks.append(message)
            more = message.get("more_body", False)
        body = b"".join(m.get("body", b"") for m in chunks)
        # A raw NUL byte is already invalid JSON; the escaped form \u0000 is what would reach the database.
        if b"\\u0000" in body:
            try:
                locations = [["body", *p] for p in _nul_paths(json.loads(body), [])]
            except ValueError:  # malformed JSON: let the normal validation report it
                locations = []
            if locations:
                await self._reject(send, headers, locations)
                return
        await self.app(scope, _replay(chunks), send)

    def _path_locations(self, scope) -> list[list]:
        if "\x00" not in scope.get("path", ""):
            return []
        if self._templates is None:
            # Path templates from the OpenAPI document: the public description of the routes.
            paths = self.routes.openapi().get("paths", {}) if self.routes is not None else {}
            self._templates = [compile_path(template)[0] for template in paths if "{" in template]
        for regex in self._templates:
            match = regex.match(scope["path"])
            if match:
                names = [k for k, v in match.groupdict().items() if "\x00" in v]
                return [["path", k] for k in names] or [["path"]]
        return [["path"]]

    @staticmethod
    async def _reject(send, headers, locations: list[list], *, segment: bool = False) -> None:
        lang = negotiate(headers.get(b"accept-language", b"").decode("latin-1"))
        details = [{"loc": loc, "type": "invalid_character"} for loc in locations]
        body = error_body("invalid_character", *_MESSAGE, details, lang)
        if segment:
            body = {"success": False, "code": "invalid_character", "message": body["error"]["message"], **body}
        payload = json.dumps(body, ensure_ascii=False).encode()
        await send({"type": "http.response.start", "status": 422,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})


def _is_ingest(scope) -> bool:
    path = scope.get("path", "")
    return path == "/v1" or path.startswith("/v1/")


def _replay(messages: list[dict]):
    pending = list(messages)

    async def receive():
        if pending:
            return pending.pop(0)
        return {"type": "http.disconnect"}

    return receive
