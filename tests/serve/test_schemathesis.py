"""Generated requests over the whole OpenAPI, authenticated, against the Serve app: no 5xx."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from serve.app import build_app
from simfocus.settings import Settings
from tests.serve.conftest import Account, Api, register

pytestmark = [pytest.mark.ray]

# The spec comes from the app itself; the requests go to the running Serve app.
SPEC = build_app(Settings(environment="test", data_dir=Path(tempfile.mkdtemp()))).openapi()
schema = schemathesis.openapi.from_dict(SPEC)
# Deleting the account would turn every later request into a 401.
schema = schema.exclude(method="DELETE", path="/v1/users/me")
SCHEMA_OPERATIONS = [
    (method, path)
    for path, item in SPEC["paths"].items()
    for method in item
    if not (method == "delete" and path == "/v1/users/me")
]


@pytest.fixture(scope="module")
def fuzz_account(api: Api) -> Account:
    return register(api, "Fuzz")


SENT: list[tuple[str, str, int]] = []  # every generated request: method, path, status
# Downloads that are a document of their own, not an API envelope.
RAW_JSON = ("/v1/users/me/export", "/v1/reports/{report_id}/export/{fmt}")


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_gets_a_5xx(case: Any, api: Api, fuzz_account: Account) -> None:
    headers = {"Authorization": f"Bearer {fuzz_account.token}"}
    if case.path.startswith("/v1/auth/"):
        headers = {}
    response = case.call(base_url=api.base_url, headers=headers, timeout=30)
    SENT.append((case.method, case.path, response.status_code))
    assert response.status_code < 500, (case.method, case.path, response.text[:500])
    content_type = (response.headers.get("content-type") or [""])[0]
    if content_type.startswith("application/json") and case.path not in RAW_JSON:
        body = response.json()
        assert set(body) == {"data", "meta", "errors"}, body


def test_the_run_sent_at_least_a_thousand_requests_over_every_operation() -> None:
    """Runs after the generated cases (file order): the fuzzing was substantial."""
    if not SENT:
        pytest.skip("the generated cases did not run (deselected)")
    operations = {(m.upper(), p) for m, p in SCHEMA_OPERATIONS}
    assert len(SENT) >= 1000, len(SENT)
    # (Schemathesis also tries methods an operation does not have: those are extra.)
    assert operations <= {(m.upper(), p) for m, p, _ in SENT}
