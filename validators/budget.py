"""The explain budget: how much of one task the detailed (pure Python) validator walks.

The compiled validator gives the verdict over the whole task in native code; the
detailed one only words the errors, and it costs tens of microseconds per value it
visits (a task with 250,000 ``frameImages`` items took 15 s to explain, one with
200,000 unknown keys 1.7 s). So it looks at the first ``EXPLAIN_ITEMS`` items of an
array and the first ``EXPLAIN_KEYS`` unknown keys of an object, which bounds one
task's explanation whatever its size. The document's one array in a task,
``inputs.frameImages``, allows a single item; ``minItems``/``maxItems`` still see the
real length, so an over-long array is always reported as such. The keywords whose
jsonschema messages quote the whole instance (``type``, ``minItems``, ``maxItems``)
quote a bounded summary instead (the explainer words its own messages anyway).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from itertools import islice
from typing import Any

EXPLAIN_ITEMS = 8
EXPLAIN_KEYS = 16


def unknown_keys(instance: Mapping[str, Any], schema: Mapping[str, Any]) -> Iterator[str]:
    """The keys of ``instance`` that neither ``properties`` nor ``patternProperties``
    describe, in the instance's order (lazily: callers take a bounded number)."""
    known = schema.get("properties", {})
    patterns = "|".join(schema.get("patternProperties", {}))
    for key in instance:
        if key not in known and not (patterns and re.search(patterns, key)):
            yield key


def bounded_items(validator: Any, items: Any, instance: Any, schema: Mapping[str, Any]) -> Any:
    """jsonschema's ``items`` keyword, descending into the first ``EXPLAIN_ITEMS`` only."""
    from jsonschema import ValidationError

    if not validator.is_type(instance, "array"):
        return
    prefix = len(schema.get("prefixItems", []))
    extra = len(instance) - prefix
    if extra <= 0:
        return
    if items is False:
        yield ValidationError(f"Expected at most {prefix} items but found {extra} extra")
        return
    for index in range(prefix, prefix + min(extra, EXPLAIN_ITEMS)):
        yield from validator.descend(instance=instance[index], schema=items, path=index)


def bounded_additional_properties(
    validator: Any, additional: Any, instance: Any, schema: Mapping[str, Any]
) -> Any:
    """jsonschema's ``additionalProperties``, over the first ``EXPLAIN_KEYS`` unknown keys
    (jsonschema's own sorts and quotes every one of them for its message)."""
    from jsonschema import ValidationError

    if not validator.is_type(instance, "object"):
        return
    extras = list(islice(unknown_keys(instance, schema), EXPLAIN_KEYS))
    if validator.is_type(additional, "object"):
        for key in extras:
            yield from validator.descend(instance[key], additional, path=key)
    elif additional is False and extras:
        shown = ", ".join(repr(key) for key in extras)
        yield ValidationError(f"Additional properties are not allowed ({shown} unexpected)")


def brief(instance: Any) -> str:
    """A bounded stand-in for ``repr(instance)`` in messages (jsonschema's own quote the
    whole value: 25 ms for a 250,000-item array)."""
    if isinstance(instance, list):
        return f"an array of {len(instance)} items"
    if isinstance(instance, dict):
        return f"an object of {len(instance)} keys"
    text = repr(instance)
    return text if len(text) <= 80 else text[:77] + "..."


def bounded_type(validator: Any, types: Any, instance: Any, schema: Mapping[str, Any]) -> Any:
    from jsonschema import ValidationError

    names = [types] if isinstance(types, str) else list(types)
    if not any(validator.is_type(instance, name) for name in names):
        yield ValidationError(f"{brief(instance)} is not of type {', '.join(map(repr, names))}")


def bounded_min_items(validator: Any, low: Any, instance: Any, schema: Mapping[str, Any]) -> Any:
    from jsonschema import ValidationError

    if validator.is_type(instance, "array") and len(instance) < low:
        yield ValidationError(f"{brief(instance)} is too short (at least {low})")


def bounded_max_items(validator: Any, high: Any, instance: Any, schema: Mapping[str, Any]) -> Any:
    from jsonschema import ValidationError

    if validator.is_type(instance, "array") and len(instance) > high:
        yield ValidationError(f"{brief(instance)} is too long (at most {high})")


BOUNDED_KEYWORDS = {
    "items": bounded_items,
    "additionalProperties": bounded_additional_properties,
    "type": bounded_type,
    "minItems": bounded_min_items,
    "maxItems": bounded_max_items,
}
