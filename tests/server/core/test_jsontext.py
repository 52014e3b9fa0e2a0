"""jsontext: the server's fast JSON text (orjson) means exactly what the standard library means.

How request bodies are decoded with it is tests/server/core/test_decoding.py.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from support.json import exact, json_values

from ltxmock.server.core import jsontext


@given(json_values)
def test_written_text_reads_back_as_the_standard_library_reads_it(value: Any) -> None:
    text = jsontext.dumps(value)
    assert exact(jsontext.loads(text)) == exact(json.loads(text)) == exact(value)


def reordered(value: Any) -> Any:
    """The same value with every object's keys in reverse insertion order."""
    if isinstance(value, dict):
        return {key: reordered(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [reordered(item) for item in value]
    return value


@given(json_values)
def test_sorted_text_ignores_key_order_and_reads_back_as_the_value(value: Any) -> None:
    # A task's parameters hash to this text: a retry with its keys in another
    # order must be recognised as the same task.
    text = jsontext.dumps_sorted(value)
    assert jsontext.dumps_sorted(reordered(value)) == text
    assert exact(json.loads(text)) == exact(value)
