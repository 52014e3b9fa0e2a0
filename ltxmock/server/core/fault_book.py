"""``FaultBook``: the fault rules every worker shares (they live in the store)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from .faults import DEFAULT_TASK_FAILURE, Fault
from .ports import FaultTable


class FaultBook:
    """The fault rules every worker shares (they live in the store)."""

    def __init__(self, table: FaultTable) -> None:
        self._table = table

    def add(self, fault: Fault) -> Fault:
        """Register a rule; returns it with its id."""
        return self._table.add(fault)

    def respond_with(
        self,
        status: int,
        *,
        times: int | None = 1,
        code: str | None = None,
        message: str | None = None,
        task_type: str | None = None,
    ) -> Fault:
        """The next ``times`` requests (carrying ``task_type``, if given) get ``status``."""
        return self.add(
            Fault.http(status, code=code, message=message, times=times, task_type=task_type)
        )

    def fail_tasks(
        self, code: str = DEFAULT_TASK_FAILURE, *, times: int | None = 1, message: str | None = None
    ) -> Fault:
        """The next ``times`` submitted tasks fail with ``code`` once their latency passes."""
        return self.add(Fault.task_failure(code, message=message, times=times))

    def all(self) -> list[Fault]:
        return self._table.all()

    def remove(self, fault_id: int) -> bool:
        return self._table.remove(fault_id)

    def clear(self) -> None:
        self._table.clear()

    def any(self) -> bool:
        """Whether any rule is registered (one cheap read)."""
        return self._table.any()

    def add_transport(
        self,
        code: str,
        *,
        delay: tuple[float, float] | None = None,
        times: int | None = 1,
        task_type: str | None = None,
    ) -> Fault:
        """The next ``times`` answers get a transport fault: delay, reset, truncate, hang."""
        return self.add(Fault.transport(code, delay=delay, times=times, task_type=task_type))

    def next_for_request(
        self, task_types: Collection[str], tasks: Sequence[Mapping[str, Any]] = ()
    ) -> Fault | None:
        """Use up the rule (if any) that answers a request carrying these task types."""
        return self._table.take("http", task_types, tasks)

    def next_for_transport(
        self, task_types: Collection[str], tasks: Sequence[Mapping[str, Any]] = ()
    ) -> Fault | None:
        """Use up the transport rule (if any) for a request carrying these tasks."""
        return self._table.take("transport", task_types, tasks)

    def next_for_task(self, task: Mapping[str, Any] | None = None) -> Fault | None:
        """Use up the rule (if any) that makes a newly submitted task fail."""
        return self._table.take("task", ("videoInference",), [task] if task is not None else ())
