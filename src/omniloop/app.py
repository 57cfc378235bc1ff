"""The FastAPI application: REST API under /api, metrics, health and the built console."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import Engine, text

from omniloop import __version__
from omniloop.approvals.router import router as approvals_router
from omniloop.audiences.router import router as audiences_router
from omniloop.benefits.router import router as benefits_router
from omniloop.campaigns.router import router as campaigns_router
from omniloop.contacts.router import router as contacts_router
from omniloop.content.router import router as content_router
from omniloop.core.audit_router import router as audit_router
from omniloop.core.clock import Clock
from omniloop.core.db import get_engine, session_factory
from omniloop.core.errors import document_errors, install_error_handlers
from omniloop.core.input_guard import InputGuardMiddleware
from omniloop.core.observability import REGISTRY, RequestContextMiddleware, configure_logging
from omniloop.customers.lists_router import router as customer_lists_router
from omniloop.customers.router import router as customers_router
from omniloop.delivery.callbacks import router as delivery_callbacks_router
from omniloop.delivery.router import router as delivery_router
from omniloop.delivery.status import router as delivery_status_router
from omniloop.evaluation.experiments_router import router as experiments_router
from omniloop.evaluation.report_router import router as evaluation_report_router
from omniloop.evaluation.router import router as evaluation_router
from omniloop.events.ingest import router as ingest_router
from omniloop.events.router import router as events_router
from omniloop.jobs.router import router as jobs_router
from omniloop.jobs.service import refresh_queue_metrics
from omniloop.notifications.router import router as notifications_router
from omniloop.org.router import router as org_router
from omniloop.placements.router import router as placements_router
from omniloop.plans.estimation_router import router as plan_estimation_router
from omniloop.plans.router import router as plans_router
from omniloop.settings import Settings, get_settings
from omniloop.success.router import router as success_router
from omniloop.tags.router import router as tags_router
from omniloop.triggers.router import router as triggers_router

REPO_WEB_DIST = Path(__file__).resolve().parents[2] / "web" / "dist"


class Health(BaseModel):
    status: str
    database: str
    version: str


def create_app(settings: Settings | None = None, engine: Engine | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = engine or get_engine(settings.database_url and settings.resolved_database_url)
    configure_logging(settings.log_level, settings.log_json)

    app = FastAPI(
        title="OmniLoop API",
        version=__version__,
        description="Closed-loop customer-lifecycle marketing for banks. 银行客户全生命周期营销闭环平台。",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = session_factory(engine)
    app.state.clock = clock or Clock(settings.display_timezone)

    app.add_middleware(InputGuardMiddleware, routes=app)
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app)
    for router in (org_router, customers_router, audit_router, jobs_router, audiences_router, tags_router,
                   customer_lists_router, events_router, ingest_router):
        app.include_router(router)
    app.include_router(plan_estimation_router)
    for router in (plans_router, approvals_router, campaigns_router, notifications_router):
        app.include_router(router)
    app.include_router(triggers_router)
    for router in (benefits_router, content_router, success_router):  # campaign elements (要素管理)
        app.include_router(router)
    app.include_router(contacts_router)  # contact control (接触控制)
    for router in (delivery_router, delivery_callbacks_router, delivery_status_router, placements_router):  # 触达
        app.include_router(router)
    for router in (evaluation_router, evaluation_report_router, experiments_router):  # 营销反馈
        app.include_router(router)

    @app.get("/api/health", response_model=Health, tags=["ops"])
    def health() -> Health | JSONResponse:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            db = "ok"
        except Exception:
            return JSONResponse({"status": "degraded", "database": "unreachable", "version": __version__}, 503)
        return Health(status="ok", database=db, version=__version__)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> PlainTextResponse:
        with app.state.session_factory() as session:
            refresh_queue_metrics(session)
        return PlainTextResponse(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    _mount_console(app, settings.web_dist or REPO_WEB_DIST)

    default_openapi = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(default_openapi())
        return app.openapi_schema

    app.openapi = openapi
    return app


def _mount_console(app: FastAPI, dist: Path) -> None:
    """Serve the built console; unknown non-API paths get index.html so client-side routes work."""
    index = dist / "index.html"
    if not index.exists():
        return
    if (dist / "assets").is_dir():
        app.mount("/assets", StaticFiles(directory=dist / "assets"), name="assets")

    @app.get("/{path:path}", include_in_schema=False)
    def console(path: str, request: Request):
        if path.startswith(("api/", "v1/")):
            return JSONResponse(
                {"error": {"code": "not_found", "message": "资源不存在", "message_zh": "资源不存在",
                           "message_en": "Not found", "details": None}}, 404)
        candidate = (dist / path).resolve()
        if path and candidate.is_file() and candidate.is_relative_to(dist.resolve()):
            return FileResponse(candidate)
        return FileResponse(index)
