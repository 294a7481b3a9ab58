"""Builds a DiscussionRunner without Ray: in-process minds, a real gateway and store."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from simfocus.discussions.repository import DiscussionRepository
from simfocus.discussions.runner import DiscussionRunner
from simfocus.discussions.service import create_discussion
from simfocus.discussions.store import DiscussionStore
from simfocus.llm.gateway import Gateway
from simfocus.llm.pricing import PriceTable
from simfocus.personas.mind import PersonaMind
from simfocus.personas.schemas import TurnOutcome, TurnRequest
from simfocus.settings import REPO_CONFIGS
from simfocus.store.engine import session_factory
from simfocus.studies.schemas import Study

PRICING = PriceTable.load(REPO_CONFIGS / "pricing.yaml")


@dataclass
class Harness:
    runner: DiscussionRunner
    minds: dict[str, PersonaMind]
    gateway: Gateway
    store: DiscussionStore


async def build(engine: AsyncEngine, study: Study, report_share: float = 0.1) -> Harness:
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        setup = await create_discussion(DiscussionRepository(session), study)
    gateway = Gateway(PRICING)
    gateway.open_budget(setup.discussion_id, setup.spec.budget_micro_usd, report_share)
    minds = {
        p.id: PersonaMind(p, setup.topic, setup.spec, window_tokens=900, summary_tokens=300)
        for p in setup.participants
    }

    async def speak(participant_id: str, turn: TurnRequest) -> TurnOutcome:
        return await minds[participant_id].take_turn(turn, gateway.complete)

    store = DiscussionStore(sessions)
    return Harness(DiscussionRunner(setup, store, speak), minds, gateway, store)
