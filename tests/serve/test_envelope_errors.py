"""Errors that are not ours to raise still get a clear envelope (no Ray needed)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from serve.app import build_app
from simfocus.settings import Settings


def test_a_store_that_times_out_answers_503_with_retry_after(tmp_path: Path) -> None:
    app = build_app(Settings(environment="test", data_dir=tmp_path))

    async def busy() -> None:
        raise OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))

    app.add_api_route("/busy", busy)
    response = TestClient(app).get("/busy")  # no lifespan: nothing else starts
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    body = response.json()
    assert body["data"] is None and body["errors"][0]["code"] == "STORE_UNAVAILABLE"
    assert "locked" not in response.text  # the driver's words stay in the log
