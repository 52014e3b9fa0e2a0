"""Credits: each API key's balance in USD, spent by every accepted task.

``MockConfig.balance`` (``--balance USD``) is the balance every key starts with
(None: unlimited, the default); the admin API changes the default or one key's
balance while the mock runs. Accounts live in the store (shard 0), keyed by the
key's fingerprint, so every worker process spends from one balance and a
spend is one atomic conditional update. An accepted task costs what its
results cost (``cost.result_cost`` x ``numberResults``), whether or not it asks
for ``includeCost``; a retry of a known task is free. A request whose new
tasks cost more than the balance left is refused as a whole: 402
``insufficientCredits``, nothing stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .auth import fingerprint
from .cost import result_cost
from .errors import ApiError
from .faults import HTTP_FAULTS, Fault
from .ports import CreditTable
from .records import CreditAccount

DEFAULT_ACCOUNT = "*"
INSUFFICIENT_CREDITS, INSUFFICIENT_MESSAGE = HTTP_FAULTS[402]


def task_cost(task: Mapping[str, Any]) -> float:
    """What an accepted videoInference task spends: every result, priced alike."""
    return round(result_cost(task) * int(task.get("numberResults", 1)), 4)


class CreditBook:
    """``service.credits``: balances per API key, spent by accepted tasks."""

    def __init__(self, table: CreditTable, *, default: float | None, secret: bytes) -> None:
        self._table = table
        self._default = default
        self._secret = secret

    def enabled(self) -> bool:
        """Whether any balance applies (one cheap read; most runs have none)."""
        return self._default is not None or self._table.any()

    def account(self, api_key: str) -> CreditAccount:
        return self._public(self._table.get(self._owner(api_key), self._default))

    def default(self) -> float | None:
        """The balance new accounts start with."""
        return self._table.get(DEFAULT_ACCOUNT, self._default).balance

    def set_balance(self, usd: float | None, api_key: str | None = None) -> None:
        """Set one key's balance, or (no key) the default of accounts not made yet;
        None: unlimited."""
        if usd is not None and not usd >= 0:
            raise ValueError("a balance is a non-negative number of USD, or null (unlimited)")
        self._table.set(self._owner(api_key) if api_key is not None else DEFAULT_ACCOUNT, usd)

    def accounts(self, limit: int | None = None) -> list[CreditAccount]:
        """Every account, or the first ``limit`` by fingerprint (named by a short
        fingerprint, never the key)."""
        # One row more than asked: the default's row may be among those read.
        rows = self._table.all(None if limit is None else limit + 1)
        shown = [self._public(a) for a in rows if a.owner != DEFAULT_ACCOUNT]
        return shown if limit is None else shown[:limit]

    def charge(self, owner: str, amount: float, tasks: list[Mapping[str, Any]]) -> None:
        """Spend ``amount`` from the owner's account, or refuse the request (402)."""
        if amount <= 0:
            return
        if self._table.spend(owner, amount, self._default) is None:
            fault = Fault.http(402, code=INSUFFICIENT_CREDITS, message=INSUFFICIENT_MESSAGE)
            raise ApiError(402, fault.error_items(tasks))  # one item per task, scoped to it

    def _owner(self, api_key: str) -> str:
        return fingerprint(api_key, self._secret)

    @staticmethod
    def _public(account: CreditAccount) -> CreditAccount:
        return CreditAccount(account.owner[:12], account.balance, account.spent)
