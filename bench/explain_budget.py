"""How long one oversized task holds a worker's loop in validation, with the budgets
(``ltxmock/server/core/decoding.py``: at most 10,000 JSON values a body;
``validators/budget.py``: the explainer visits 8 items of an array, 16 unknown keys)
against the unbounded walk the explainer did before, in the same run.

Usage: python bench/explain_budget.py [--repeat 3]

Rows, one task each (all within the 4 MiB body limit):
- ``frameImages`` of 250,000 URLs (the document allows 1);
- 200,000 unknown keys;
- 10,000 invalid ``frameImages`` objects;
- a ``positivePrompt`` that is a 250,000-item array.

Columns: the unbounded jsonschema walk alone (``iter_errors`` of the explaining
validator without the budget: a lower bound of the old cost, which also worded every
error); ``ltxmock.validate`` of the task with the budget (what an accepted body costs
to explain now); the request path now (``decode_json`` of the body, then ``validate``
if the decoder let it through); the speed-up of the request path.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import TYPICAL_TASK, log
from ltxmock.validators import default_validator

from ltxmock.server.core.decoding import decode_json
from ltxmock.server.core.errors import ApiError


def task(**fields: Any) -> dict[str, Any]:
    return {**TYPICAL_TASK, "taskUUID": str(uuid.uuid4()), **fields}


CASES: dict[str, dict[str, Any]] = {
    "frameImages: 250,000 URLs": task(inputs={"frameImages": ["https://e.x/a"] * 250_000}),
    "200,000 unknown keys": task(**{f"k{i}": i for i in range(200_000)}),
    "frameImages: 10,000 bad objects": task(inputs={"frameImages": [{"image": 5}] * 10_000}),
    "positivePrompt: 250,000-item array": task(positivePrompt=["x"] * 250_000),
}


def unbounded_validator() -> Any:
    """The explaining validator as it was: jsonschema, the ECMA patterns, no budget."""
    import jsonschema
    from ltxmock.validators.formats import ecma_pattern, format_checker

    schema = default_validator().route(CASES["200,000 unknown keys"], 0).schema  # type: ignore[union-attr]
    cls = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": ecma_pattern})
    return cls(schema, format_checker=format_checker())


def best_of(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def request_path(raw: bytes) -> None:
    try:
        body = decode_json(raw)
    except ApiError:
        return
    default_validator().validate(body)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    validator = default_validator()
    validator.warm_up()
    old = unbounded_validator()
    rows = [
        "| task | body | unbounded walk, ms | validate now, ms | request path now, ms | speed-up |",
        "|---|---|---|---|---|---|",
    ]
    for name, case in CASES.items():
        raw = json.dumps([case]).encode()
        log(f"{name}: the unbounded walk (slow)...")
        before = best_of(lambda c=case: list(old.iter_errors(c)), 1)
        now = best_of(lambda c=case: validator.validate([c]), args.repeat)
        path = best_of(lambda r=raw: request_path(r), args.repeat)
        rows.append(
            f"| {name} | {len(raw) / 1e6:.1f} MB | {before * 1e3:,.0f} | {now * 1e3:.1f} "
            f"| {path * 1e3:.1f} | {before / path:,.0f}x |"
        )
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
