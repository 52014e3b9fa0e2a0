"""The error object: one problem in a request, shaped like a Runware API error."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PayloadError:
    """One problem with a request body, in the vocabulary of the Runware API.

    ``to_dict()`` gives the object the real API puts in ``{"errors": [...]}``;
    ``pointer`` (RFC 6901, into the whole request body) and ``keyword`` (the
    failing JSON Schema keyword, when there is one) are ours, for tools.
    """

    code: str
    message: str
    parameter: str | None = None
    pointer: str = ""
    task_uuid: str | None = None
    task_type: str | None = None
    documentation: str | None = None
    type: str | None = None
    allowed_values: list[Any] | None = None
    keyword: str | None = None
    task_index: int | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"code": self.code, "message": self.message}
        optional = {
            "parameter": self.parameter,
            "type": self.type,
            "documentation": self.documentation,
            "taskUUID": self.task_uuid,
            "taskType": self.task_type,
            "allowedValues": self.allowed_values,
            "pointer": self.pointer or None,
        }
        wire.update({key: value for key, value in optional.items() if value is not None})
        return wire

    def __str__(self) -> str:
        where = f"{self.parameter}: " if self.parameter else ""
        return f"{self.code} {where}{self.message}"
