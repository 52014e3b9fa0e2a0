"""Field matchers for the test kit's assertions, and what a near miss differs in.

    from ltxmock import matchers as m

    mock.assert_submitted(duration=m.one_of(6, 8), positivePrompt=m.contains("fox"))
    mock.assert_submitted(**{"providerSettings.lightricks.generateAudio": True})
    mock.assert_submitted(providerSettings={"lightricks": {"generateAudio": True}})

An expected value is a plain JSON value (equal, with ``6 == 6.0`` as JSON means
it; a dict matches any task object holding at least its members, recursively)
or a ``Matcher``. A key is a task field, or a dotted path into nested objects
and lists (``inputs.frameImages.0.image``). Each check returns ``(matched,
reason)``, as the ``responses`` library's matchers do, so that a failure can
say which field of the closest request differed and how.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MISSING: Any = object()  # the value at a path that a task does not have
SHOWN = 120  # characters of a value shown in a reason


@dataclass(frozen=True)
class Matcher:
    """A named check of one value: ``test(value) -> (matched, reason)``."""

    description: str
    test: Callable[[Any], tuple[bool, str]]

    def __call__(self, value: Any) -> tuple[bool, str]:
        return self.test(value)

    def __repr__(self) -> str:
        return self.description


def _predicate(description: str, check: Callable[[Any], bool]) -> Matcher:
    def test(value: Any) -> tuple[bool, str]:
        if value is MISSING:
            return False, f"expected {description}, but the field is missing"
        if check(value):
            return True, ""
        return False, f"expected {description}, got {show(value)}"

    return Matcher(description, test)


ANY = Matcher("any value", lambda v: (True, "") if v is not MISSING else (False, "missing"))


def present() -> Matcher:
    """The field is there, whatever its value."""
    return ANY


def absent() -> Matcher:
    """The field is not there."""
    return Matcher(
        "absent",
        lambda v: (True, "") if v is MISSING else (False, f"expected no value, got {show(v)}"),
    )


def one_of(*values: Any) -> Matcher:
    """Equal to one of ``values``."""
    return _predicate(
        f"one of {show(list(values))}", lambda v: any(json_equal(v, x) for x in values)
    )


def contains(text: str) -> Matcher:
    """A string containing ``text``."""
    return _predicate(f"a string containing {text!r}", lambda v: isinstance(v, str) and text in v)


def matches(pattern: str) -> Matcher:
    """A string in which the regular expression ``pattern`` is found (``re.search``)."""
    compiled = re.compile(pattern)
    return _predicate(
        f"a string matching /{pattern}/",
        lambda v: isinstance(v, str) and compiled.search(v) is not None,
    )


def between(low: float, high: float) -> Matcher:
    """A number in ``[low, high]``."""
    return _predicate(
        f"a number in [{low:g}, {high:g}]",
        lambda v: _is_number(v) and low <= v <= high,
    )


def satisfies(
    check: Callable[[Any], bool], description: str = "a value passing a check"
) -> Matcher:
    """Any predicate of your own."""
    return _predicate(description, check)


# -- matching a task ------------------------------------------------------------------
def differences(task: Any, expected: Mapping[str, Any]) -> list[str]:
    """Why ``task`` does not match ``expected``: one line per differing field (empty: it does)."""
    found: list[str] = []
    for key, want in expected.items():
        found.extend(_compare(key, value_at(task, key), want))
    return found


def closest(candidates: Iterable[Any], expected: Mapping[str, Any]) -> tuple[Any, list[str]] | None:
    """The candidate differing from ``expected`` in the fewest fields, and how (None: no
    candidates). Ties go to the latest candidate: the one the test most likely meant."""
    best: tuple[Any, list[str]] | None = None
    for candidate in candidates:
        diff = differences(candidate, expected)
        if best is None or len(diff) <= len(best[1]):
            best = (candidate, diff)
    return best


def value_at(task: Any, path: str) -> Any:
    """The value at a field name or a dotted path (``MISSING`` if there is none).

    A key holding a dot itself is found whole first."""
    if isinstance(task, Mapping) and path in task:
        return task[path]
    node = task
    for step in path.split("."):
        if isinstance(node, Mapping) and step in node:
            node = node[step]
        elif isinstance(node, list) and step.isdigit() and int(step) < len(node):
            node = node[int(step)]
        else:
            return MISSING
    return node


def _compare(path: str, actual: Any, want: Any) -> list[str]:
    if isinstance(want, Matcher):
        matched, reason = want(actual)
        return [] if matched else [f"{path}: {reason}"]
    if actual is MISSING:
        return [f"{path}: expected {show(want)}, but the field is missing"]
    if isinstance(want, Mapping) and isinstance(actual, Mapping):
        return [
            line
            for key, value in want.items()
            for line in _compare(f"{path}.{key}", actual.get(key, MISSING), value)
        ]
    if not json_equal(actual, want):
        return [f"{path}: expected {show(want)}, got {show(actual)}"]
    return []


def json_equal(a: Any, b: Any) -> bool:
    """Equal as JSON values: ``6 == 6.0``, but ``1 != true`` and ``"6" != 6``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if _is_number(a) and _is_number(b):
        return bool(a == b or (math.isnan(a) and math.isnan(b)))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, Sequence) and isinstance(b, Sequence):
        if isinstance(a, str) or isinstance(b, str):
            return a == b
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def show(value: Any, limit: int = SHOWN) -> str:
    """A value as the JSON it is, cut at ``limit`` characters."""
    if isinstance(value, Matcher):
        return value.description
    text = json.dumps(value, sort_keys=True, default=repr)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(expected: Mapping[str, Any]) -> str:
    """``expected`` as shown in a message: JSON, matchers by their description."""
    return "{" + ", ".join(f"{json.dumps(k)}: {show(v)}" for k, v in expected.items()) + "}"
