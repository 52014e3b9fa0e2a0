"""Validate a whole ``POST /v1`` request body: routing, request rules, schemas.

Each task is routed to the schema that describes it (a model's document by
``model``, or a utility task by ``taskType``). A verdict comes from a compiled
jsonschema-rs validator; the detailed jsonschema validator runs only to explain
a task the compiled one rejected.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema_rs

from .documents import ModelDocument, load_documents, packaged_documents
from .errors import PayloadError
from .formats import RUST_FORMAT_OVERRIDES
from .utility import CONNECTION_DOCS, UTILITY_DOCS, UTILITY_SCHEMAS

AUTHENTICATION = "authentication"
GET_RESPONSE = "getResponse"
BODY_DOCS = "https://runware.ai/docs/en/getting-started/how-to-connect"


def detailed_validator(schema: dict[str, Any]) -> Any:
    """jsonschema's Draft 2020-12 validator with our format and pattern semantics."""
    # Imported here: jsonschema is most of start-up and only explains failures.
    import jsonschema

    from .budget import BOUNDED_KEYWORDS
    from .formats import ecma_pattern, format_checker

    cls = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
        jsonschema.Draft202012Validator, {"pattern": ecma_pattern, **BOUNDED_KEYWORDS}
    )
    return cls(schema, format_checker=format_checker())


_BUILDING = threading.Lock()


@dataclass
class TaskSchema:
    """A schema a task can be checked against, compiled both ways."""

    task_type: str
    subject: str
    schema: dict[str, Any]
    documentation: Callable[[str | None], str | None]
    model: ModelDocument | None = None
    allowed_models: tuple[str, ...] = ()
    unique_uuid: bool = True
    compiled: Any = field(init=False, repr=False)
    _detailed: Any = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        self.compiled = jsonschema_rs.Draft202012Validator(
            self.schema, validate_formats=True, formats=RUST_FORMAT_OVERRIDES
        )

    @property
    def detailed(self) -> Any:
        # Built on first failure only: most processes never explain anything. A
        # server warms it up in a thread while requests may need it: one build.
        if self._detailed is None:
            with _BUILDING:
                if self._detailed is None:
                    self._detailed = detailed_validator(self.schema)
        return self._detailed

    def explain(self, task: Any, index: int) -> list[PayloadError]:
        from .explain import Explainer, TaskContext

        ctx = TaskContext(index, task, self.subject, self.documentation, self.allowed_models)
        return Explainer(ctx).explain(self.detailed.iter_errors(task))


class RequestValidator:
    """Validates request bodies against every loaded model document."""

    def __init__(self, documents: Sequence[ModelDocument]) -> None:
        if not documents:
            raise ValueError("at least one model document is needed")
        self.documents = tuple(documents)
        self._by_model: dict[tuple[str, str], TaskSchema] = {}
        self._by_task_type: dict[str, list[TaskSchema]] = {}
        for doc in self.documents:
            peers = tuple(d.air_id for d in self.documents if d.task_type == doc.task_type)
            target = TaskSchema(
                task_type=doc.task_type,
                subject=f"model {doc.air_id}",
                schema=doc.validator_schema(),
                documentation=doc.documentation_url,
                model=doc,
                allowed_models=peers,
            )
            self._by_model[(doc.task_type, doc.air_id)] = target
            self._by_task_type.setdefault(doc.task_type, []).append(target)
        for task_type, schema in UTILITY_SCHEMAS.items():
            self._by_task_type[task_type] = [
                TaskSchema(
                    task_type=task_type,
                    subject=f"the {task_type} task",
                    schema=schema,
                    documentation=_fixed_url(UTILITY_DOCS[task_type]),
                    unique_uuid=task_type != GET_RESPONSE,
                )
            ]
        self.auth = self._auth_schema()

    @classmethod
    def from_spec_dir(cls, spec_dir: Path | str | None = None) -> RequestValidator:
        return cls(load_documents(spec_dir))

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(doc.air_id for doc in self.documents)

    @property
    def task_types(self) -> tuple[str, ...]:
        return (AUTHENTICATION, *self._by_task_type)

    def document(self, air_id: str) -> ModelDocument | None:
        return next((d for d in self.documents if d.air_id == air_id), None)

    def _auth_schema(self) -> TaskSchema | None:
        for doc in self.documents:
            if doc.auth_schema() is not None:
                return TaskSchema(
                    task_type=AUTHENTICATION,
                    subject="the authentication task",
                    schema={**doc.document, "$ref": "#/components/schemas/AuthenticationTask"},
                    documentation=_fixed_url(CONNECTION_DOCS),
                    unique_uuid=False,
                )
        return None

    def warm_up(self) -> None:
        """Build every explaining (jsonschema) validator now, not at the first failure.

        For latency-sensitive callers: a server before it takes traffic, or tests
        whose first failing example must not pay for the build.
        """
        for targets in self._by_task_type.values():
            for target in targets:
                _ = target.detailed
        if self.auth is not None:
            _ = self.auth.detailed

    # -- routing -------------------------------------------------------------
    def route(self, task: Mapping[str, Any], index: int) -> TaskSchema | PayloadError:
        """The schema for ``task``, or the error that says why there is none."""
        task_type = task.get("taskType")
        if task_type == AUTHENTICATION and self.auth is not None:
            if index == 0:
                return self.auth
            return self._task_error(
                task,
                index,
                "invalidAuthentication",
                "The authentication task must be the first element of the request array; "
                "send it first, or use the 'Authorization: Bearer <key>' header instead.",
                "taskType",
            )
        candidates = self._by_task_type.get(task_type) if isinstance(task_type, str) else None
        if candidates is None and "taskType" not in task:
            model = task.get("model")
            found = [s for s in self._by_model.values() if s.model and s.model.air_id == model]
            if found:
                return found[0]  # its schema reports the missing taskType with the rest
        if candidates is None:
            allowed = list(self.task_types)
            if "taskType" not in task:
                return self._task_error(
                    task,
                    index,
                    "missingParameter",
                    f"Missing required parameter taskType. Use one of: {', '.join(allowed)}.",
                    "taskType",
                    allowed,
                )
            return self._task_error(
                task,
                index,
                "unsupportedTaskType",
                f"Invalid value for taskType parameter. Task type {task_type!r} is not "
                f"supported; use one of: {', '.join(allowed)}.",
                "taskType",
                allowed,
            )
        if len(candidates) == 1:
            return candidates[0]
        model = task.get("model")
        chosen = self._by_model.get((str(task_type), model)) if isinstance(model, str) else None
        if chosen is not None:
            return chosen
        allowed = [c.model.air_id for c in candidates if c.model]
        code, verb = (
            ("invalidModel", f"Invalid value for model parameter ({model!r}).")
            if "model" in task
            else ("missingParameter", "Missing required parameter model.")
        )
        return self._task_error(
            task, index, code, f"{verb} Use one of: {', '.join(allowed)}.", "model", allowed
        )

    @staticmethod
    def _task_error(
        task: Mapping[str, Any],
        index: int,
        code: str,
        message: str,
        parameter: str,
        allowed: list[Any] | None = None,
    ) -> PayloadError:
        uuid, task_type = task.get("taskUUID"), task.get("taskType")
        return PayloadError(
            code=code,
            message=message,
            parameter=parameter,
            pointer=f"/{index}/{parameter}" if parameter in task else f"/{index}",
            task_uuid=uuid if isinstance(uuid, str) else None,
            task_type=task_type if isinstance(task_type, str) else None,
            documentation=BODY_DOCS,
            type="string",
            allowed_values=allowed,
            task_index=index,
        )

    # -- verdicts --------------------------------------------------------------
    def is_valid(self, body: Any) -> bool:
        if type(body) is not list or not body:
            return False
        seen: set[str] = set()
        for index, task in enumerate(body):
            if type(task) is not dict:
                return False
            target = self.route(task, index)
            if type(target) is not TaskSchema or not target.compiled.is_valid(task):
                return False
            if target.unique_uuid and "taskUUID" in task:
                uuid = task["taskUUID"].lower()
                if uuid in seen:
                    return False
                seen.add(uuid)
        return True

    def validate(self, body: Any) -> list[PayloadError]:
        """Every problem in ``body``, in request order; empty when it is valid."""
        if not isinstance(body, list):
            return [
                _body_error(
                    "The request body must be a JSON array of task objects, "
                    f'e.g. [{{"taskType": "videoInference", ...}}]; got {_kind(body)}.'
                )
            ]
        if not body:
            return [_body_error("The request body is an empty array; send at least one task.")]
        errors: list[PayloadError] = []
        first_use: dict[str, int] = {}
        for index, task in enumerate(body):
            if not isinstance(task, dict):
                errors.append(
                    PayloadError(
                        code="invalidTask",
                        message=f"Element {index} of the request array must be a task object "
                        f'with a taskType, like {{"taskType": "ping"}}; got {_kind(task)}.',
                        pointer=f"/{index}",
                        documentation=BODY_DOCS,
                        type="object",
                        task_index=index,
                    )
                )
                continue
            target = self.route(task, index)
            if isinstance(target, PayloadError):
                errors.append(target)
                continue
            if not target.compiled.is_valid(task):
                errors.extend(target.explain(task, index))
            uuid = task.get("taskUUID")
            if target.unique_uuid and isinstance(uuid, str):
                earlier = first_use.setdefault(uuid.lower(), index)
                if earlier != index:
                    errors.append(_conflict(task, index, earlier))
        return errors


def _fixed_url(url: str) -> Callable[[str | None], str | None]:
    return lambda _parameter: url


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)


def _body_error(message: str) -> PayloadError:
    return PayloadError(
        code="invalidRequestBody",
        message=message,
        pointer="",
        documentation=BODY_DOCS,
        type="array",
    )


def _conflict(task: Mapping[str, Any], index: int, earlier: int) -> PayloadError:
    uuid = task["taskUUID"]
    return PayloadError(
        code="conflictTaskUUID",
        message=f"Invalid value for taskUUID parameter. Task UUID {uuid} is already used by "
        f"task {earlier} of this request; every task needs its own UUID v4.",
        parameter="taskUUID",
        pointer=f"/{index}/taskUUID",
        task_uuid=uuid,
        task_type=task.get("taskType") if isinstance(task.get("taskType"), str) else None,
        documentation=BODY_DOCS,
        type="string",
        keyword="uniqueTaskUUID",
        task_index=index,
    )


_default: RequestValidator | None = None


def default_validator() -> RequestValidator:
    """The validator for the packaged documents, built once per process."""
    global _default
    if _default is None:
        _default = RequestValidator(packaged_documents())
    return _default


def reset_default_validator() -> None:
    """Forget the cached validator (tests that change LTXMOCK_SPEC_DIR call this)."""
    global _default
    _default = None
    packaged_documents.cache_clear()
