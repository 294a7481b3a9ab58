from __future__ import annotations

from simfocus.characters.templates import TemplateLibrary
from simfocus.discussions.schemas import Mode
from simfocus.llm.estimate import estimate_study
from simfocus.llm.pricing import PriceTable
from simfocus.settings import REPO_CONFIGS
from tests.discussions.harness import build
from tests.factories import create_study

PRICING = PriceTable.load(REPO_CONFIGS / "pricing.yaml")


async def test_the_estimate_brackets_a_real_run(sqlite_engine, templates: TemplateLibrary) -> None:  # type: ignore[no-untyped-def]
    study = create_study(templates, mode=Mode.CREATIVE, personas=4, rounds=8, budget_usd=1.0)
    e = estimate_study(study, PRICING, window_tokens=900, summary_tokens=300, report_share=0.1)
    h = await build(sqlite_engine, study)
    snapshot = await h.runner.run()
    assert e.turns == 4 * 8
    assert e.expected_micro_usd < e.worst_micro_usd
    assert snapshot.cost_micro_usd <= e.worst_micro_usd, "the worst case is an upper bound"
    assert 0.6 <= snapshot.cost_micro_usd / e.expected_micro_usd <= 1.5, "the expectation is close"
    assert e.fits_budget is True
