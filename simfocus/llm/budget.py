"""Hard budgets: reserve the worst case before a call, settle on reported usage.

A discussion's budget is split in two pools: turns may spend all but ``report_share`` of
it, the report may spend what is left. A user's budget (account ``user:<id>``) caps all of
that user's discussions together; a call books against both at once. ``reserve`` checks
and books in one synchronous step, so concurrent calls (all on one event loop) can never
overshoot together.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from simfocus.llm.errors import BudgetExhausted
from simfocus.llm.schemas import Purpose


@dataclass
class Account:
    budget_micro_usd: int | None
    report_share: float
    spent: int = 0  # settled
    reserved: int = 0  # booked for calls in flight

    @property
    def turn_limit(self) -> int | None:
        if self.budget_micro_usd is None:
            return None
        return self.budget_micro_usd - round(self.budget_micro_usd * self.report_share)

    def limit_for(self, purpose: Purpose) -> int | None:
        return self.budget_micro_usd if purpose is Purpose.REPORT else self.turn_limit


@dataclass(frozen=True)
class Reservation:
    id: int
    accounts: tuple[str, ...]
    amount: int


@dataclass
class BudgetLedger:
    """Books money per discussion. Pure and single-threaded: its owner serialises calls."""

    accounts: dict[str, Account] = field(default_factory=dict)
    _open: dict[int, Reservation] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def open(
        self, account: str, budget_micro_usd: int | None, report_share: float = 0.1, spent: int = 0
    ) -> None:
        """Open (or re-open with a new limit) an account; ``spent`` carries earlier spend."""
        existing = self.accounts.get(account)
        if existing is not None:
            existing.budget_micro_usd = budget_micro_usd
            existing.report_share = report_share
            existing.spent = max(existing.spent, spent)
            return
        self.accounts[account] = Account(budget_micro_usd, report_share, spent=spent)

    def reserve(
        self, account: str | list[str], amount: int, purpose: Purpose = Purpose.TURN
    ) -> Reservation:
        """Book ``amount`` against one account or several at once (a discussion and its
        user): all or none, checked and booked in one step."""
        names = [account] if isinstance(account, str) else account
        for name in names:
            if name not in self.accounts:
                self.open(name, None)
            self._check(name, self.accounts[name], amount, purpose)
        for name in names:
            self.accounts[name].reserved += amount
        reservation = Reservation(next(self._ids), tuple(names), amount)
        self._open[reservation.id] = reservation
        return reservation

    @staticmethod
    def _check(name: str, acct: Account, amount: int, purpose: Purpose) -> None:
        limit = acct.limit_for(purpose)
        committed = acct.spent + acct.reserved
        if limit is not None and committed + amount > limit:
            whose = "your account's" if name.startswith("user:") else f"the {purpose.value}"
            raise BudgetExhausted(
                f"budget exhausted: this call may cost up to ${amount / 1e6:.6f} but only "
                f"${max(0, limit - committed) / 1e6:.6f} of {whose} budget is left "
                f"(spent ${acct.spent / 1e6:.6f} of ${(acct.budget_micro_usd or 0) / 1e6:.6f})",
                field="budget_usd",
            )

    def settle(self, reservation: Reservation, actual: int) -> None:
        """Replace a reservation by what the call really cost (idempotent)."""
        if self._open.pop(reservation.id, None) is None:
            return
        for name in reservation.accounts:
            acct = self.accounts[name]
            acct.reserved -= reservation.amount
            acct.spent += actual

    def spent(self, account: str) -> int:
        acct = self.accounts.get(account)
        return acct.spent if acct else 0

    def remaining(self, account: str, purpose: Purpose = Purpose.TURN) -> int | None:
        acct = self.accounts.get(account)
        if acct is None:
            return None
        limit = acct.limit_for(purpose)
        return None if limit is None else limit - acct.spent - acct.reserved

    def close(self, account: str) -> None:
        self.accounts.pop(account, None)
