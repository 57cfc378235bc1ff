"""Structured JSON logs with request ids, and Prometheus metrics."""

from __future__ import annotations

import logging
import sys
import time
import uuid

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from pythonjsonlogger.json import JsonFormatter
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request

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


class RequestContextMiddleware(BaseHTTPMiddleware):
    """Request id (from X-Request-ID or new), language, client ip; latency metric and access log."""

    async def dispatch(self, request: Request, call_next):
        request_id = (request.headers.get("x-request-id") or uuid.uuid4().hex)[:64]
        request.state.request_id = request_id  # for the last-resort error handler, which runs outside us
        tokens = (
            current_request_id.set(request_id),
            current_ip.set(request.client.host if request.client else None),
            current_language.set(negotiate(request.headers.get("accept-language"))),
        )
        start = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            response.headers["X-Request-ID"] = request_id
            return response
        finally:
            elapsed = time.perf_counter() - start
            route = request.scope.get("route")
            route_path = getattr(route, "path", "unmatched")
            REQUEST_LATENCY.labels(request.method, route_path, str(status)).observe(elapsed)
            if request.url.path.startswith(("/api", "/v1")):
                log.info("request", extra={"method": request.method, "path": request.url.path, "status": status,
                                           "duration_ms": round(elapsed * 1000, 2)})
            current_request_id.reset(tokens[0])
            current_ip.reset(tokens[1])
            current_language.reset(tokens[2])
