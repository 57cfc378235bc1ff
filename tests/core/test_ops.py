"""Operations surface: health, Prometheus metrics, request ids and the JSON error shape."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from omniloop.app import create_app


def _metrics(client: TestClient) -> dict:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def _assert_error_shape(body: dict, code: str) -> None:
    error = body["error"]
    assert error["code"] == code
    assert set(error) >= {"code", "message", "message_zh", "message_en", "details"}
    assert error["message"] and error["message_zh"] and error["message_en"]


def test_health_is_ok(client):
    response = client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["version"]


def test_metrics_has_request_latency_by_route_and_queue_depth(client):
    assert client.get("/api/health").status_code == 200
    families = _metrics(client)

    # prometheus_client names the histogram family without the _seconds_bucket/_count suffixes.
    latency = families["omniloop_http_request_duration_seconds"]
    assert latency.type == "histogram"
    health_counts = [s for s in latency.samples
                     if s.name.endswith("_count") and s.labels.get("route") == "/api/health"
                     and s.labels.get("method") == "GET" and s.labels.get("status") == "200"]
    assert health_counts and health_counts[0].value >= 1

    depth = families["omniloop_job_queue_depth"]
    assert depth.type == "gauge"
    assert {s.labels["status"] for s in depth.samples} >= {"queued", "running", "failed"}


def test_unmatched_paths_are_not_labelled_with_the_raw_path(client):
    """Unknown URLs must not create one time series each (label cardinality)."""
    client.get("/api/no-such-thing-12345")
    latency = _metrics(client)["omniloop_http_request_duration_seconds"]
    assert not any("no-such-thing-12345" in s.labels.get("route", "") for s in latency.samples)


@pytest.mark.parametrize("method,path", [
    ("GET", "/api/health"),
    ("GET", "/metrics"),
    ("GET", "/api/auth/me"),            # 401
    ("GET", "/api/does-not-exist"),     # 404
    ("POST", "/api/auth/login"),        # 422
])
def test_every_response_carries_a_request_id(client, method, path):
    generated = client.request(method, path)
    assert generated.headers.get("X-Request-ID")

    echoed = client.request(method, path, headers={"X-Request-ID": "req-abc-123"})
    assert echoed.headers["X-Request-ID"] == "req-abc-123"


def test_request_ids_are_unique_when_not_given(client):
    ids = {client.get("/api/health").headers["X-Request-ID"] for _ in range(5)}
    assert len(ids) == 5


def test_unknown_api_path_is_404_in_the_error_shape(client):
    response = client.get("/api/no/such/route", headers={"Accept-Language": "en"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    _assert_error_shape(response.json(), "not_found")
    assert response.json()["error"]["message"] == response.json()["error"]["message_en"]


def test_unknown_api_path_is_404_json_even_with_the_console_mounted(db, engine, settings, tmp_path):
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><div id=root></div>", encoding="utf-8")
    app = create_app(settings=settings.model_copy(update={"web_dist": dist}), engine=engine)
    with TestClient(app) as client:
        api = client.get("/api/no/such/route")
        assert api.status_code == 404
        _assert_error_shape(api.json(), "not_found")
        page = client.get("/customers/C000000001")  # a client-side route gets the console
        assert page.status_code == 200 and "<div id=root>" in page.text


@pytest.mark.parametrize("body", [
    b'{"username": "admin", "password": ',   # truncated JSON
    b"{not json}",
    b"\x80\x81\x1fID",                        # not even UTF-8 (FastAPI answers 400 by default)
], ids=["truncated", "not-json", "not-utf8"])
def test_malformed_json_body_is_422_in_the_error_shape(client, body):
    response = client.post("/api/auth/login", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    code = response.json()["error"]["code"]
    assert code in {"validation_error", "invalid_body"}, code
    _assert_error_shape(response.json(), code)


def test_method_not_allowed_is_405_in_the_error_shape(client):
    response = client.delete("/api/health")
    assert response.status_code == 405
    _assert_error_shape(response.json(), "method_not_allowed")
