"""Discussions on real providers' wire formats (local servers), through the Ray actors."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import ray
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from simfocus.characters.templates import TemplateLibrary
from simfocus.discussions.schemas import DiscussionSpec, DiscussionStatus, Mode
from simfocus.llm.schemas import ProviderConfig
from simfocus.settings import Settings
from simfocus.store.engine import session_factory
from simfocus.store.models import LLMCallRow
from simfocus.studies.schemas import Study
from tests.conftest import PLANTED_KEY, PLANTED_KEY_ENV
from tests.factories import create_study
from tests.fakes.llm_servers import FakeLLMServer, Fault

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_cluster")]


@pytest.fixture(params=["openai", "anthropic"])
def server(request: pytest.FixtureRequest) -> Iterator[FakeLLMServer]:
    with FakeLLMServer(request.param, api_key=PLANTED_KEY, chunk_delay_s=0.01) as s:
        yield s


def on_server(
    templates: TemplateLibrary, server: FakeLLMServer, *, rounds: int = 2, **provider: Any
) -> Study:
    study = create_study(templates, mode=Mode.CREATIVE, personas=3, rounds=rounds)
    config = ProviderConfig.model_validate(
        {
            "name": server.flavour,
            "model": f"{server.flavour}-test",
            "base_url": server.base_url,
            "api_key_env": PLANTED_KEY_ENV,
            "timeout_s": 2,
            **provider,
        }
    )
    spec = DiscussionSpec.model_validate(
        {**study.discussion.model_dump(), "provider": config.model_dump()}
    )
    return study.model_copy(update={"discussion": spec})


async def call_rows(engine: AsyncEngine, discussion_id: str, gateway: Any) -> list[LLMCallRow]:
    await gateway.flush_call_log.remote()
    async with session_factory(engine)() as session:
        rows = await session.scalars(
            select(LLMCallRow).where(LLMCallRow.discussion_id == discussion_id)
        )
        return list(rows)


async def test_a_discussion_streams_live_through_the_actors(
    launch: Callable[[Study], Any],
    templates: TemplateLibrary,
    server: FakeLLMServer,
    sqlite_engine: AsyncEngine,
    settings: Settings,
) -> None:
    run = await launch(on_server(templates, server))
    live: list[dict[str, Any]] = []
    last, after_live = 0, 0
    while True:
        batch = await run.moderator.events_since.remote(last, None, 5.0, after_live)
        live += batch.live
        after_live = batch.snapshot.live_id
        last = batch.snapshot.last_seq
        if batch.snapshot.status.is_terminal:
            break
    assert batch.snapshot.status is DiscussionStatus.COMPLETED, batch.snapshot.status_reason
    messages = await run.messages()
    persona = [m for m in messages if m.role == "persona"]
    assert len(persona) == 6 and all(m.content.startswith("Simulated reply") for m in persona)
    assert not any(m.simulated for m in persona) and persona[0].provider == server.flavour
    deltas = [e for e in live if e["type"] == "message_delta"]
    assert deltas, "text arrived before the messages were committed"
    # each message's deltas add up to the committed text
    for m in persona:
        streamed = "".join(e["text"] for e in deltas if e["seq"] == m.seq)
        assert streamed.strip() == m.content.strip()
    rows = await call_rows(
        sqlite_engine, run.setup.discussion_id, ray.get_actor(settings.gateway_name)
    )
    assert len(rows) == 6 and all(r.status == "ok" and r.ttft_ms is not None for r in rows)
    assert sum(r.cost_micro_usd for r in rows) == sum(m.cost_micro_usd for m in persona) > 0


@pytest.mark.parametrize(
    "faults",
    [
        [Fault(status=429, retry_after=0.2)],
        [Fault(status=500), Fault(status=503), Fault(status=529)],
        [Fault(reset=True)],
        [Fault(malformed=True)],
        [Fault(cut_after_chunks=2)],
        [Fault(delay_s=3)],  # longer than the 2 s timeout
    ],
    ids=["429", "5xx", "reset", "malformed", "cut", "timeout"],
)
async def test_transient_faults_are_retried_and_the_discussion_completes(
    launch: Callable[[Study], Any],
    templates: TemplateLibrary,
    server: FakeLLMServer,
    faults: list[Fault],
) -> None:
    server.add_faults(*faults)
    run = await launch(on_server(templates, server))
    snapshot = await run.moderator.wait_finished.remote(60)
    assert snapshot.status is DiscussionStatus.COMPLETED, snapshot.status_reason
    messages = await run.messages()
    assert [m.seq for m in messages] == list(range(1, len(messages) + 1))
    assert len([m for m in messages if m.role == "persona"]) == 6


async def test_a_bad_key_fails_with_a_clear_reason_and_keeps_the_transcript(
    launch: Callable[[Study], Any],
    templates: TemplateLibrary,
    server: FakeLLMServer,
) -> None:
    # Two good turns, then the key stops working.
    run = await launch(on_server(templates, server, rounds=3))
    await run.wait_for_seq(3)
    server.api_key = "sk-rotated-" + "x" * 20
    snapshot = await run.moderator.wait_finished.remote(60)
    assert snapshot.status is DiscussionStatus.FAILED
    assert "refused the API key" in (snapshot.status_reason or "")
    messages = await run.messages()
    assert len(messages) == snapshot.last_seq >= 3, "nothing committed is lost"


async def test_the_planted_key_appears_nowhere(
    launch: Callable[[Study], Any],
    templates: TemplateLibrary,
    server: FakeLLMServer,
    settings: Settings,
    sqlite_engine: AsyncEngine,
) -> None:
    server.add_faults(Fault(status=401), Fault(status=429, retry_after=0.1))
    run = await launch(on_server(templates, server))
    snapshot = await run.moderator.wait_finished.remote(60)
    events = await run.moderator.events_since.remote(0, None, 0, 0)
    await ray.get_actor(settings.gateway_name).flush_call_log.remote()
    haystacks = [repr(snapshot), repr(events)]
    haystacks += [repr(m) for m in await run.messages()]
    db = Path(settings.data_dir) / "simfocus.db"
    for path in (db, db.with_name("simfocus.db-wal")):
        if path.exists():
            haystacks.append(path.read_bytes().decode("latin-1"))
    logs = Path(ray._private.worker._global_node.get_session_dir_path()) / "logs"
    await asyncio.sleep(0.5)  # let log writers flush
    for path in logs.rglob("*"):
        if path.is_file():
            haystacks.append(path.read_bytes().decode("latin-1"))
    assert len(haystacks) > 10
    assert not [h[:80] for h in haystacks if PLANTED_KEY in h]
