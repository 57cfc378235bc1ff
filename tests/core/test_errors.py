"""Unexpected errors still answer in the one error shape, with the request id for support."""

from fastapi.testclient import TestClient


def test_unexpected_exception_is_json_500_with_request_id(app):
    @app.get("/api/test-crash")
    def crash():
        raise RuntimeError("boom")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/test-crash", headers={"X-Request-ID": "req-123", "Accept-Language": "en"})
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "internal_error"
    assert error["message"] == "Internal server error, please retry later"
    assert error["details"] == {"request_id": "req-123"}
    assert "boom" not in response.text


def test_nul_in_json_body_is_422_naming_the_field(client, db):
    response = client.post("/api/auth/login", json={"username": "a\x00b", "password": "x"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_character"
    assert error["details"] == [{"loc": ["body", "username"], "type": "invalid_character"}]
