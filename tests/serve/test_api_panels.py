"""Personas sampled from a demographic spec over the API, saved as the caller's characters."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.serve.conftest import Account, Api
from tests.serve.test_api_journey import data, error

pytestmark = [pytest.mark.ray]
SPEC = yaml.safe_load(Path("configs/panels/uk_commuters.yaml").read_text())


def test_a_sampled_panel_is_saved_as_characters_reproducibly(api: Api, alice: Account) -> None:
    with api.client(alice.token) as c:
        first = data(
            c.post("/v1/characters/from-panel", json={"spec": SPEC, "n": 6, "seed": 3}), 201
        )
        again = data(
            c.post("/v1/characters/from-panel", json={"spec": SPEC, "n": 6, "seed": 3}), 201
        )
        listed = data(c.get("/v1/characters", params={"per_page": 100}))
        bad = error(
            c.post(
                "/v1/characters/from-panel",
                json={"spec": {**SPEC, "stance": {"sideways": 1}}, "n": 3},
            ),
            422,
        )
    assert len(first) == 6 and len({p["id"] for p in first + again}) == 12
    strip = [
        {k: v for k, v in p.items() if k not in ("id", "created_at", "updated_at")} for p in first
    ]
    assert strip == [
        {k: v for k, v in p.items() if k not in ("id", "created_at", "updated_at")} for p in again
    ]
    assert {p["id"] for p in first} <= {p["id"] for p in listed}
    assert "stance" in bad["field"]
