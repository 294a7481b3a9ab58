"""A batch worker's share of a batch budget, leased in chunks from the central gateway.

A batch's groups run in several worker processes, each calling the model through a
gateway of its own (no actor hop per call). The batch budget stays in one place, the
central gateway's ledger: a worker leases a chunk of it (reserved there, durably), spends
from the chunk locally and leases more when a call's worst case would not fit. What a
worker leased and did not spend goes back when it settles; a worker that dies keeps its
leases booked at their full amount, so the batch budget is never exceeded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from simfocus.llm.budget import BudgetLedger
from simfocus.llm.errors import BudgetExhausted

Acquire = Callable[[int], Awaitable[int]]  # asks for an amount, returns what was granted


class BudgetLease:
    def __init__(self, account: str, acquire: Acquire, chunk_micro_usd: int) -> None:
        self.account = account
        self.acquire = acquire
        self.chunk = max(1, chunk_micro_usd)
        self.leased = 0
        self._ledger: BudgetLedger | None = None
        self._lock = asyncio.Lock()

    def attach(self, ledger: BudgetLedger) -> None:
        """The local ledger the lease feeds: its account's budget is what was leased."""
        self._ledger = ledger
        ledger.open(self.account, 0, report_share=0.0)

    def _room(self) -> int:
        assert self._ledger is not None
        remaining = self._ledger.remaining(self.account)
        return 0 if remaining is None else remaining

    async def ensure(self, amount: int) -> None:
        """Make room for ``amount`` in the local account, leasing more if needed."""
        if self._room() >= amount:
            return
        async with self._lock:  # one top-up at a time; the others find the room made
            while self._room() < amount:
                granted = await self.acquire(max(self.chunk, amount - self._room()))
                if granted <= 0:
                    raise BudgetExhausted(
                        "the batch budget is spent: this call may cost up to "
                        f"${amount / 1e6:.6f} and no more can be leased",
                        field="budget_usd",
                    )
                assert self._ledger is not None
                acct = self._ledger.accounts[self.account]
                acct.budget_micro_usd = (acct.budget_micro_usd or 0) + granted
                self.leased += granted

    @property
    def spent(self) -> int:
        assert self._ledger is not None
        return self._ledger.spent(self.account)
