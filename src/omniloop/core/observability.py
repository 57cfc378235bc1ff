"""Structured JSON logs with request ids, and Prometheus metrics."""

from __future__ import annotations

import logging
import sys
import time
import uuid

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from pythonjsonlogger.json import JsonFormatter
from starlette.datastructures import Headers

from omniloop.core.audit import current_ip, current_request_id
from omniloop.core.i18n import current_language, negotiate

REGISTRY = CollectorRegistry()
REQUEST_LATENCY = Histogram(
    "omniloop_http_request_duration_seconds", "HTTP request latency by route", ["method", "route", "status"],
    registry=REGISTRY,
)
JOB_QUEUE_DEPTH = Gauge("omniloop_job_queue_depth", "Jobs waiting to run, by status", ["status"], registry=REGISTRY)
JOB_FAILURES = Counter("omniloop_job_failures_total", "Job attempts that raised", ["name"], registry=REGISTRY)
JOB_COMPLETED = Counter("omniloop_jobs_completed_total", "Jobs finished, by outcome", ["name", "status"],
                        registry=REGISTRY)
WORKER_HEARTBEAT = Gauge("omniloop_worker_heartbeat_timestamp_seconds", "Last heartbeat of each worker", ["worker"],
                         registry=REGISTRY)

log = logging.getLogger("omniloop")


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return True


def configure_logging(level: str = "INFO", json_logs: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if json_logs:
        handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger("omniloop")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


class RequestContextMiddleware:
    """Request id (from X-Request-ID or new), language, client ip; latency metric and access log.

    Pure ASGI (not Starlette's ``BaseHTTPMiddleware``, which runs the app in a task and copies the
    response through a stream on every request): it wraps ``send`` to add the header and see the status.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        request_id = (headers.get("x-request-id") or uuid.uuid4().hex)[:64]
        # For the last-resort error handler, which runs outside us (request.state reads scope["state"]).
        scope.setdefault("state", {})["request_id"] = request_id
        client = scope.get("client")
        tokens = (
            current_request_id.set(request_id),
            current_ip.set(client[0] if client else None),
            current_language.set(negotiate(headers.get("accept-language"))),
        )
        header = (b"x-request-id", request_id.encode("latin-1"))
        status = 500

        async def send_with_id(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - start
            route_path = getattr(scope.get("route"), "path", "unmatched")
            REQUEST_LATENCY.labels(scope["method"], route_path, str(status)).observe(elapsed)
            path = scope.get("path", "")
            if path.startswith(("/api", "/v1")) and log.isEnabledFor(logging.INFO):
                log.info("request", extra={"method": scope["method"], "path": path, "status": status,
                                           "duration_ms": round(elapsed * 1000, 2)})
            current_request_id.reset(tokens[0])
            current_ip.reset(tokens[1])
            current_language.reset(tokens[2])
