"""Turn jsonschema errors into Runware-shaped errors a person can act on.

The wording follows the real API ("Invalid value for duration parameter. ...")
and its code families: ``invalid<Param>`` for a wrong type, range or format,
``unsupported<Param>`` for a value outside an allowed set, ``missingParameter``
and ``unsupportedParameter`` for absent and unknown keys. ``oneOf``/``anyOf``
failures are never passed through as "is not valid under any of the given
schemas": they are narrowed to the branch the value was meant for, or read as
a list of allowed values or allowed combinations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from jsonschema import ValidationError as SchemaError
from jsonschema.exceptions import best_match

from .budget import EXPLAIN_KEYS, unknown_keys
from .errors import PayloadError
from .shapes import branch_constants, combination_table

Path = Sequence[str | int]

_WIRE_TYPES = {
    "number": "float",
    "integer": "integer",
    "string": "string",
    "boolean": "boolean",
    "object": "object",
    "array": "array",
    "null": "null",
}
_TYPE_PHRASES = {
    "number": "a float value",
    "integer": "an integer value",
    "string": "a string value",
    "boolean": "a boolean value (true or false)",
    "object": "an object",
    "array": "an array",
    "null": "null",
}
_FORMAT_PHRASES = {
    "uuid": "a UUID such as 'f47ac10b-58cc-4372-a567-0e02b2c3d493'",
    "uri": "an absolute URI such as 'https://example.com/path'",
}


@dataclass(frozen=True)
class TaskContext:
    """Where a task sits in the request, and how to name and document it."""

    index: int
    task: Any
    subject: str  # e.g. "model lightricks:2@1" or "the getResponse task"
    documentation: Callable[[str | None], str | None]
    allowed_models: tuple[str, ...] = ()

    @property
    def pointer(self) -> str:
        return f"/{self.index}"

    def _field(self, key: str) -> str | None:
        value = self.task.get(key) if isinstance(self.task, Mapping) else None
        return value if isinstance(value, str) else None

    @property
    def task_uuid(self) -> str | None:
        return self._field("taskUUID")

    @property
    def task_type(self) -> str | None:
        return self._field("taskType")

    def error(
        self,
        code: str,
        message: str,
        path: Path = (),
        *,
        parameter: str | None = None,
        keyword: str | None = None,
        type: str | None = None,
        allowed_values: list[Any] | None = None,
    ) -> PayloadError:
        parameter = parameter if parameter is not None else (parameter_name(path) or None)
        top = next((p for p in path if isinstance(p, str)), None)
        return PayloadError(
            code=code,
            message=message,
            parameter=parameter,
            pointer=self.pointer + "".join(f"/{escape(p)}" for p in path),
            task_uuid=self.task_uuid,
            task_type=self.task_type,
            documentation=self.documentation(top),
            type=type,
            allowed_values=allowed_values,
            keyword=keyword,
            task_index=self.index,
        )


def escape(token: str | int) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def parameter_name(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _leaf(path: Path, fallback: str = "Parameter") -> str:
    name = next((p for p in reversed(path) if isinstance(p, str)), None)
    return (name[0].upper() + name[1:]) if name else fallback


def _human(schema: Any, path: Path) -> str:
    title = schema.get("title") if isinstance(schema, Mapping) else None
    if not isinstance(title, str) or not title:
        names = [p for p in path if isinstance(p, str)]
        return names[-1] if names else "The value"
    words = title.split()
    # "Number of Results" -> "Number of results", keeping acronyms like "FPS", "UUID"
    rest = [w if w.isupper() else w.lower() for w in words[1:]]
    return " ".join([words[0], *rest])


def _schema_type(schema: Any, values: Iterable[Any] = ()) -> str | None:
    declared = schema.get("type") if isinstance(schema, Mapping) else None
    if isinstance(declared, str):
        return _WIRE_TYPES.get(declared, declared)
    if isinstance(declared, list):
        return "|".join(_WIRE_TYPES.get(str(t), str(t)) for t in declared)
    kinds = {_json_type(v) for v in values}
    return _WIRE_TYPES.get(kinds.pop()) if len(kinds) == 1 else None


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return "null"


def _matches_type(value: Any, declared: Any) -> bool:
    kinds = [declared] if isinstance(declared, str) else list(declared or [])
    actual = _json_type(value)
    return any(
        k == actual
        or (k == "number" and actual == "integer")
        or (k == "integer" and isinstance(value, float) and value.is_integer())
        for k in kinds
    )


def _show(value: Any) -> str:
    import json

    # Only the first 60 characters are shown: dump no more of the value than that
    # (a task may carry a 250,000-item array or a 4 MB string).
    text = json.dumps(_clip(value), ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _clip(value: Any, depth: int = 0) -> Any:
    """Enough of ``value`` for a 60-character quote: short strings, few items, shallow."""
    if isinstance(value, str):
        return value[:61]
    if depth > 4:
        return "..."
    if isinstance(value, list):
        return [_clip(item, depth + 1) for item in value[:30]]
    if isinstance(value, dict):
        return {str(k)[:61]: _clip(v, depth + 1) for k, v in islice(value.items(), 30)}
    return value


def _listing(values: Sequence[Any]) -> str:
    return ", ".join(v if isinstance(v, str) else _show(v) for v in values)


def _combo_label(keys: Sequence[str], combo: Sequence[Any]) -> str:
    if list(keys) == ["width", "height"]:
        return f"{combo[0]}x{combo[1]}"
    return ", ".join(f"{k}={_show(v)}" for k, v in zip(keys, combo, strict=True))


def _range_phrase(schema: Mapping[str, Any], kind: str) -> str:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if low is not None and high is not None:
        return f"{kind} between {low} and {high}"
    if low is not None:
        op = "greater than" if "exclusiveMinimum" in schema else "greater than or equal to"
        return f"{kind} {op} {low}"
    op = "less than" if "exclusiveMaximum" in schema else "less than or equal to"
    return f"{kind} {op} {high}"


def _size_phrase(schema: Mapping[str, Any], low_key: str, high_key: str, unit: str) -> str:
    low, high = schema.get(low_key), schema.get(high_key)
    if low is not None and low == high:
        return f"exactly {low} {unit[:-1] if low == 1 else unit}"
    if low is not None and high is not None:
        return f"between {low} and {high} {unit}"
    if low is not None:
        return f"at least {low} {unit[:-1] if low == 1 else unit}"
    return f"at most {high} {unit[:-1] if high == 1 else unit}"


class Explainer:
    """Explains one task's schema errors in the context of that task."""

    def __init__(self, ctx: TaskContext) -> None:
        self.ctx = ctx

    def explain(self, errors: Iterable[SchemaError]) -> list[PayloadError]:
        found: list[PayloadError] = []
        combos: list[tuple[SchemaError, list[str], list[tuple[Any, ...]]]] = []
        for error in errors:
            branches: Any = error.validator_value
            table = combination_table(branches) if error.validator in ("oneOf", "anyOf") else None
            if table:
                combos.append((error, *table))
            else:
                found.extend(self._explain_one(error))
        # A combination error only adds news when its members are otherwise fine.
        blamed = {e.pointer for e in found}
        for error, keys, rows in combos:
            found.extend(self._combination(error, keys, rows, blamed))
        return _dedupe(found)

    # -- one error ---------------------------------------------------------
    def _explain_one(self, e: SchemaError) -> list[PayloadError]:
        path = list(e.absolute_path)
        schema = e.schema if isinstance(e.schema, Mapping) else {}
        param = parameter_name(path)
        human = _human(schema, path)
        kind = str(e.validator)
        value: Any = e.instance
        expected: Any = e.validator_value
        invalid = f"invalid{_leaf(path)}"
        head = f"Invalid value for {param} parameter." if param else "Invalid task."

        if kind == "type":
            phrase = (
                _TYPE_PHRASES.get(expected, expected)
                if isinstance(expected, str)
                else " or ".join(_TYPE_PHRASES.get(t, t) for t in expected)
            )
            return [
                self.ctx.error(
                    invalid,
                    f"{head} {human} must be {phrase} (got {_show(value)}).",
                    path,
                    keyword=kind,
                    type=_schema_type(schema),
                )
            ]
        if kind in ("enum", "const"):
            allowed = list(expected) if kind == "enum" else [expected]
            return [self._not_allowed(path, schema, value, allowed, kind)]
        if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            what = "an integer value" if schema.get("type") == "integer" else "a number"
            return [
                self.ctx.error(
                    invalid,
                    f"{head} {human} must be {_range_phrase(schema, what)} (got {_show(value)}).",
                    path,
                    keyword=kind,
                    type=_schema_type(schema),
                )
            ]
        if kind in ("minLength", "maxLength"):
            size = _size_phrase(schema, "minLength", "maxLength", "characters")
            return [
                self.ctx.error(
                    f"{invalid}Length",
                    f"{head} {human} must be {size} long (got {len(value)}).",
                    path,
                    keyword=kind,
                    type="string",
                )
            ]
        if kind in ("minItems", "maxItems"):
            size = _size_phrase(schema, "minItems", "maxItems", "items")
            return [
                self.ctx.error(
                    invalid,
                    f"{head} {human} must contain {size} (got {len(value)}).",
                    path,
                    keyword=kind,
                    type="array",
                )
            ]
        if kind == "format":
            fmt = str(expected)
            phrase = _FORMAT_PHRASES.get(fmt, f"a valid {fmt}")
            return [
                self.ctx.error(
                    invalid,
                    f"{head} {human} must be {phrase} (got {_show(value)}).",
                    path,
                    keyword=kind,
                    type="string",
                )
            ]
        if kind == "pattern":
            described = schema.get("description") or f"a string matching {expected}"
            return [
                self.ctx.error(
                    invalid,
                    f"{head} Expected {described} (got {_show(value)}).",
                    path,
                    keyword=kind,
                    type="string",
                )
            ]
        if kind == "required":
            return self._missing(path, schema, value, list(expected))
        if kind == "dependentRequired":
            return self._missing_dependencies(path, schema, value, expected)
        if kind in ("additionalProperties", "unevaluatedProperties"):
            return self._unsupported_keys(path, schema, value)
        if kind in ("oneOf", "anyOf"):
            return self._alternatives(e, path, schema)
        return [self.ctx.error(invalid, f"{head} {e.message}.", path, keyword=kind)]

    def _not_allowed(
        self, path: Path, schema: Mapping[str, Any], value: Any, allowed: list[Any], kind: str
    ) -> PayloadError:
        param = parameter_name(path)
        leaf = path[-1] if path else None
        if leaf == "model":
            allowed = list(self.ctx.allowed_models) or allowed
            return self.ctx.error(
                "invalidModel",
                f"Invalid value for model parameter. Unknown model {_show(value)} for "
                f"{self.ctx.task_type or 'this task'}; use one of: {_listing(allowed)}.",
                path,
                keyword=kind,
                type="string",
                allowed_values=allowed,
            )
        code = "unsupportedTaskType" if leaf == "taskType" else f"unsupported{_leaf(path)}"
        return self.ctx.error(
            code,
            f"Invalid value for {param} parameter. This value is not supported by "
            f"{self.ctx.subject}: {_human(schema, path)} must be one of {_listing(allowed)} "
            f"(got {_show(value)}).",
            path,
            keyword=kind,
            type=_schema_type(schema, allowed),
            allowed_values=allowed,
        )

    def _missing(
        self, path: Path, schema: Mapping[str, Any], instance: Any, required: list[str]
    ) -> list[PayloadError]:
        if not isinstance(instance, Mapping):
            return []
        props = schema.get("properties", {})
        out = []
        for name in required:
            if name in instance:
                continue
            sub = props.get(name, {})
            about = sub.get("description", "") if isinstance(sub, Mapping) else ""
            about = f" {about}" if about and len(about) < 200 else ""
            out.append(
                self.ctx.error(
                    "missingParameter",
                    f"Missing required parameter {parameter_name([*path, name])} "
                    f"for {self.ctx.subject}.{about}",
                    [*path, name],
                    keyword="required",
                    type=_schema_type(sub),
                )
            )
        return out

    def _missing_dependencies(
        self, path: Path, schema: Mapping[str, Any], instance: Any, deps: Mapping[str, Any]
    ) -> list[PayloadError]:
        if not isinstance(instance, Mapping):
            return []
        props = schema.get("properties", {})
        out = []
        for present, needed in deps.items():
            if present not in instance:
                continue
            for name in needed:
                if name in instance:
                    continue
                out.append(
                    self.ctx.error(
                        "missingParameter",
                        f"Missing {parameter_name([*path, name])} parameter. It is required "
                        f"when {parameter_name([*path, present])} is given.",
                        [*path, name],
                        keyword="dependentRequired",
                        type=_schema_type(props.get(name, {})),
                    )
                )
        return out

    def _unsupported_keys(
        self, path: Path, schema: Mapping[str, Any], instance: Any
    ) -> list[PayloadError]:
        if not isinstance(instance, Mapping):
            return []
        known = list(schema.get("properties", {}))
        where = f"{parameter_name(path)} of {self.ctx.subject}" if path else self.ctx.subject
        # Bounded (budget.py): a task may carry any number of unknown keys.
        extras = list(islice(unknown_keys(instance, schema), EXPLAIN_KEYS + 1))
        found = [
            self.ctx.error(
                "unsupportedParameter",
                f"Unsupported parameter {parameter_name([*path, key])}: {where} does not "
                f"support it. Supported parameters: {', '.join(known)}.",
                [*path, key],
                keyword="additionalProperties",
                allowed_values=known,
            )
            for key in extras[:EXPLAIN_KEYS]
        ]
        if len(extras) > EXPLAIN_KEYS:
            found.append(
                self.ctx.error(
                    "unsupportedParameter",
                    f"{where[0].upper()}{where[1:]} has more unsupported parameters than the "
                    f"{EXPLAIN_KEYS} listed; remove every parameter that is not one of: "
                    f"{', '.join(known)}.",
                    path,
                    keyword="additionalProperties",
                    allowed_values=known,
                )
            )
        return found

    def _alternatives(
        self, e: SchemaError, path: Path, schema: Mapping[str, Any]
    ) -> list[PayloadError]:
        branches: Any = e.validator_value
        consts = branch_constants(branches)
        if consts is not None:
            return [self._not_allowed(path, schema, e.instance, consts, str(e.validator))]
        # Narrow to the branches meant for this kind of value.
        typed = [
            i
            for i, b in enumerate(branches)
            if isinstance(b, Mapping)
            and _matches_type(e.instance, b.get("type", "object" if "properties" in b else None))
        ]
        if len(typed) == 1:
            inner = [c for c in e.context or () if c.relative_schema_path[0] == typed[0]]
            if inner:
                return self.explain(inner)
        described = schema.get("description") or schema.get("title")
        param = parameter_name(path)
        head = f"Invalid value for {param} parameter." if param else "Invalid task."
        if isinstance(described, str) and described:
            text = described.split("\n")[0].rstrip(".")
            return [
                self.ctx.error(
                    f"invalid{_leaf(path)}",
                    f"{head} Expected {text[0].lower() + text[1:]} (got {_show(e.instance)}).",
                    path,
                    keyword=str(e.validator),
                )
            ]
        best = best_match(e.context or ())
        return self.explain([best]) if best is not None else []

    def _combination(
        self,
        e: SchemaError,
        keys: list[str],
        rows: list[tuple[Any, ...]],
        blamed: set[str],
    ) -> list[PayloadError]:
        instance = e.instance if isinstance(e.instance, Mapping) else {}
        path = list(e.absolute_path)
        labels = [_combo_label(keys, row) for row in rows]
        names = " and ".join(keys)
        base = self.ctx.pointer + "".join(f"/{escape(p)}" for p in path)
        if any(f"{base}/{escape(k)}" in blamed for k in keys):
            return []
        present = [k for k in keys if k in instance]
        if not present:
            dims = keys == ["width", "height"]
            return [
                self.ctx.error(
                    "missingDimensionParameters" if dims else "missingParameter",
                    f"Missing {names} parameters. {self.ctx.subject.capitalize()} has no default "
                    f"for them (its schema's oneOf needs one option to match): {names} must be "
                    f"one of {', '.join(labels)}.",
                    path,
                    parameter=parameter_name([*path, keys[0]]),
                    keyword=str(e.validator),
                    allowed_values=labels,
                )
            ]
        if len(present) < len(keys) and any(
            tuple(instance.get(k) for k in present) == tuple(r[keys.index(k)] for k in present)
            for r in rows
        ):
            return []  # what is given fits an option; the missing half is reported elsewhere
        column = {k: {row[i] for row in rows} for i, k in enumerate(keys)}
        culprit = next(
            (k for k in present if instance[k] not in column[k]),
            present[-1],
        )
        got = (
            _combo_label(keys, [instance.get(k) for k in keys])
            if len(present) == len(keys)
            else f"{culprit}={_show(instance[culprit])}"
        )
        code = (
            "unsupportedDimensions"
            if keys == ["width", "height"]
            else f"unsupported{_leaf([culprit])}"
        )
        return [
            self.ctx.error(
                code,
                f"Invalid value for {names} parameters. {names.capitalize()} must be one of "
                f"{', '.join(labels)} (got {got}).",
                [*path, culprit],
                keyword=str(e.validator),
                type=_schema_type({}, [instance[culprit]]),
                allowed_values=labels,
            )
        ]


def _dedupe(errors: Iterable[PayloadError]) -> list[PayloadError]:
    errors = list(errors)
    # A value of the wrong type also fails its enum/range checks; the type is the news.
    typed = {e.pointer for e in errors if e.keyword == "type"}
    seen: set[tuple[str, str, str | None]] = set()
    out = []
    for error in errors:
        key = (error.code, error.pointer, error.parameter)
        if key in seen or (error.pointer in typed and error.keyword != "type"):
            continue
        seen.add(key)
        out.append(error)
    return out
