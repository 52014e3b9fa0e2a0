"""The labelled examples the invalid strategies draw: what is broken, and where."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .jsonvalues import JSON, Path, Task


@dataclass(frozen=True)
class InvalidTask:
    """A task that breaks exactly one rule of its model's schema.

    ``rule`` is the JSON Schema keyword that fails (``"type"``, ``"enum"``,
    ``"required"``, ``"oneOf"``, ...); ``parameter`` names the value or key at
    fault the way the validator reports it (``"inputs.frameImages[0]"``);
    ``path`` is the same location as a tuple of keys and indices.
    """

    task: Task
    rule: str
    parameter: str
    path: Path = ()


@dataclass(frozen=True)
class InvalidRequest:
    """A request body that breaks one request-level rule (its tasks are fine).

    Rules: ``notArray``, ``emptyArray``, ``notObject``, ``authenticationNotFirst``,
    ``conflictTaskUUID``, ``unsupportedTaskType``. ``parameter`` is the task
    parameter at fault, or None when the body itself is.
    """

    body: JSON
    rule: str
    parameter: str | None = None


def parameter_name(path: Iterable[str | int]) -> str:
    """``("inputs", "frameImages", 0)`` -> ``"inputs.frameImages[0]"``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out
