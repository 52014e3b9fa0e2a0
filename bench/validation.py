"""Benchmark request validation: ltxmock's compiled verdict against the obvious alternatives.

Times, in the same run and on the same valid 1080p LTX-2 Fast request:

* ``ltxmock.is_valid(body)``    -- routing + compiled jsonschema-rs verdict per task;
* ``ltxmock.validate(body)``    -- the full API (a valid body never reaches jsonschema);
* raw ``jsonschema_rs``          -- the compiled task schema alone, no routing;
* ``jsonschema.Draft202012Validator(schema, format_checker=...).is_valid(task)``;
* openapi-core ``OpenAPI.validate_request`` of the whole HTTP request.

Run from the repository root:  python bench/validation.py [--calls N]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema_rs
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import TYPICAL_TASK, Target, percentiles, report, time_calls
from ltxmock.validators import default_validator
from ltxmock.validators.formats import RUST_FORMAT_OVERRIDES

import ltxmock

TASK: dict[str, Any] = {
    **TYPICAL_TASK,
    "taskUUID": "6f1c2b52-4a5e-4c8e-9a57-2f0f3d1e9b10",
    "fps": 25,
    "outputFormat": "MP4",
    "deliveryMethod": "async",
    "includeCost": True,
}
BODY = [TASK]
TARGET_MEDIAN_US = 5.0
TARGET_RATIO = 10.0


def candidates() -> list[tuple[str, Callable[[], Any]]]:
    validator = default_validator()
    document = validator.documents[0]
    schema = document.validator_schema()
    raw = jsonschema_rs.Draft202012Validator(
        schema, validate_formats=True, formats=RUST_FORMAT_OVERRIDES
    )
    plain = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    openapi = OpenAPI.from_dict(dict(document.document))
    data = json.dumps(BODY).encode()

    def openapi_core() -> None:
        request = MockRequest(
            "https://api.runware.ai", "post", "/v1/",
            headers={"Authorization": "Bearer bench-key"},
            data=data, content_type="application/json",
        )  # fmt: skip
        openapi.validate_request(request)

    checks = {
        "ltxmock.is_valid": ltxmock.is_valid(BODY),
        "ltxmock.validate": ltxmock.validate(BODY) == [],
        "jsonschema_rs": raw.is_valid(TASK),
        "jsonschema": plain.is_valid(TASK),
    }
    openapi_core()  # raises if the request is refused
    if not all(checks.values()):
        raise SystemExit(f"the benchmark payload is not valid everywhere: {checks}")
    return [
        ("ltxmock.is_valid", lambda: ltxmock.is_valid(BODY)),
        ("ltxmock.validate (valid body)", lambda: ltxmock.validate(BODY)),
        ("jsonschema_rs raw task schema", lambda: raw.is_valid(TASK)),
        ("jsonschema Draft202012.is_valid", lambda: plain.is_valid(TASK)),
        ("openapi-core validate_request", openapi_core),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000, help="timed calls per fast case")
    args = parser.parse_args(argv)
    rows = []
    for name, fn in candidates():
        # The slow readings get fewer calls: their per-call cost dwarfs timer noise.
        count = args.calls if "ltxmock" in name or "rs" in name else max(args.calls // 20, 200)
        median, p99 = percentiles(time_calls(fn, count, warmup=min(count // 10, 500)))
        rows.append((name, count, median * 1e6, p99 * 1e6))
    base = rows[0][2]
    print(f"\n{'validation of one valid 1080p task':<34} {'calls':>7} {'median us':>10} "
          f"{'p99 us':>9} {'vs is_valid':>12}")  # fmt: skip
    for name, count, median, p99 in rows:
        print(f"{name:<34} {count:>7} {median:>10.2f} {p99:>9.2f} {median / base:>11.1f}x")
    jsonschema_median = rows[3][2]
    return report(
        [
            Target("ltxmock.is_valid median", base, TARGET_MEDIAN_US, "us"),
            Target(
                "jsonschema / ltxmock.is_valid",
                jsonschema_median / base,
                TARGET_RATIO,
                "x",
                higher_is_better=True,
            ),
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
