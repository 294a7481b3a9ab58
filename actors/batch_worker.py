"""``BatchWorkerActor``: runs many groups of a batch at once in one process.

The dense placement for batches (see ``simfocus/personas/host.py``): each worker hosts the
moderator logic and the personas of every group it is given, with its own gateway (its
share of the provider's rate limits; its lease of the batch budget from the central
gateway) and a group-committing store. One worker per core by default, spread over the
cluster's nodes.
"""

from __future__ import annotations

import gc
import logging
import os
from typing import Any

import ray
from ray.util import metrics

from actors.errors import unwrap
from actors.gateway import RayMetrics
from simfocus.batches.group import GroupContext, GroupRun, batch_call, run_group
from simfocus.batches.schemas import BatchGroup
from simfocus.discussions.store import GroupCommitStore
from simfocus.llm.calls import CallLogWriter
from simfocus.llm.config import GatewayConfig
from simfocus.llm.credentials import Credentials
from simfocus.llm.gateway import Gateway
from simfocus.llm.lease import BudgetLease
from simfocus.llm.pricing import PriceTable
from simfocus.llm.registry import ProviderRegistry
from simfocus.personas.host import PersonaHost
from simfocus.settings import Settings
from simfocus.store.engine import create_engine, session_factory

logger = logging.getLogger(__name__)
LEASE_CHUNKS = 50  # a worker leases about 1/50 of the batch budget at a time


class BatchWorkerActor:
    def __init__(
        self,
        settings: Settings,
        batch_id: str,
        name: str,
        workers: int,
        central_gateway: Any,
        budget_micro_usd: int | None,
    ) -> None:
        # A worker allocates many short-lived objects for hundreds of groups at once: fewer
        # collections of the young generation (and none of what start-up loaded) save
        # about a tenth of its CPU (measured by scripts/bench_batch.py).
        gc.freeze()
        gc.set_threshold(100_000, 50, 100)
        self.settings = settings
        self.name = name
        self._engine = create_engine(
            settings.resolved_database_url,
            busy_timeout_ms=settings.sqlite_busy_timeout_ms,
            pool_size=4,
        )
        sessions = session_factory(self._engine)
        self.call_log = CallLogWriter(sessions)
        self.account = f"batch:{batch_id}" if budget_micro_usd is not None else None
        lease = None
        if self.account is not None and budget_micro_usd is not None:
            account = self.account

            async def acquire(amount: int) -> int:
                try:
                    granted: int = await central_gateway.lease_budget.remote(
                        account, name, amount, budget_micro_usd
                    )
                except Exception as e:
                    raise unwrap(e) from None
                return granted

            lease = BudgetLease(account, acquire, budget_micro_usd // LEASE_CHUNKS)
        self.lease = lease
        self.central = central_gateway
        self.gateway = Gateway(
            PriceTable.load(settings.pricing_file),
            ProviderRegistry(Credentials(os.environ), base_urls=settings.base_urls),
            # This worker's share of the provider limits: all workers together stay within.
            config=GatewayConfig.load(settings.gateway_config_file).share(1 / workers),
            observer=RayMetrics(),
            call_log=self.call_log.record,
            lease=lease,
        )
        self.ctx = GroupContext(
            sessions=sessions,
            store=GroupCommitStore(sessions),
            gateway=self.gateway,
            host=PersonaHost(
                batch_call(self.gateway, self.account),
                window_tokens=settings.context_window_tokens,
                summary_tokens=settings.summary_tokens,
            ),
            report_share=settings.report_budget_share,
            report_context_tokens=settings.report_context_tokens,
            report_max_tokens=settings.report_max_tokens,
            budget_account=self.account,
        )
        self.running = 0
        self.peak = 0
        self._active = metrics.Gauge(
            "simfocus_batch_groups_running",
            description="Groups of a batch running in this worker.",
            tag_keys=("worker",),
        )
        self._turns = metrics.Counter(
            "simfocus_turns", description="persona turns taken", tag_keys=("mode",)
        )

    async def run_group(self, group: BatchGroup, user_id: str | None, reports: bool) -> GroupRun:
        self.running += 1
        self.peak = max(self.peak, self.running)
        self._active.set(self.running, tags={"worker": self.name})
        try:
            run = await run_group(self.ctx, group, user_id=user_id, reports=reports)
            if run.turns:
                self._turns.inc(run.turns, tags={"mode": group.mode.value})
            return run
        finally:
            self.running -= 1
            self._active.set(self.running, tags={"worker": self.name})
            if self.call_log.pending >= 500:
                await self.call_log.flush()

    def stats(self) -> dict[str, Any]:
        return {
            "worker": self.name,
            "pid": os.getpid(),
            "node": os.uname().nodename,
            "node_id": ray.get_runtime_context().get_node_id(),
            "peak": self.peak,
            "running": self.running,
            "personas_hosted": self.ctx.host.personas,
            "commits": getattr(self.ctx.store, "commits", 0),
        }

    async def finish(self) -> dict[str, Any]:
        """Flush the call log and give back the unspent part of the budget lease."""
        await self.call_log.flush()
        if self.lease is not None and self.account is not None:
            await self.central.settle_lease.remote(self.account, self.name, self.lease.spent)
        await self.gateway.aclose()
        await self._engine.dispose()
        return self.stats()

    def check_health(self) -> bool:
        return True
