"""Benchmark ``ltxmock lint`` on a directory of small payload files.

Generates N payload files (mostly valid, every 100th broken in one of a few
ways), then times, in the same run and on the same files:

* ``ltxmock lint DIR`` -- the console script, whole process, median of runs;
* ``check-jsonschema --schemafile SCHEMA FILES...`` -- with SCHEMA the spec's
  request-body array schema written out as standalone JSON Schema 2020-12.

Run from the repository root:  python bench/lint.py [--files N] [--runs R]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ltxmock.validators.documents import load_documents, resolve_pointer

TARGET_SECONDS = 3.0
RESOLUTIONS = ((1920, 1080), (2560, 1440), (3840, 2160))
PROMPTS = ("a cat on a skateboard", "waves at dusk, slow pan", "a city street in the rain")


def payload(index: int) -> list[dict[str, Any]]:
    width, height = RESOLUTIONS[index % 3]
    task: dict[str, Any] = {
        "taskType": "videoInference",
        "taskUUID": str(uuid.UUID(int=index + 1, version=4)),
        "model": "lightricks:2@1",
        "positivePrompt": PROMPTS[index % len(PROMPTS)],
        "width": width,
        "height": height,
        "duration": (6, 8, 10)[index % 3],
    }
    if index % 2:
        task["fps"] = 50
        task["outputFormat"] = "WEBM"
    if index % 100 == 99:  # the invalid ones, one problem each
        broken = (index // 100) % 3
        if broken == 0:
            task["duration"] = 7
        elif broken == 1:
            task["colour"] = "red"
        else:
            del task["positivePrompt"]
    return [task]


def generate(directory: Path, count: int) -> int:
    """Write ``count`` files into ``directory``; the number that are invalid."""
    invalid = 0
    step = max(count // 10, 1)
    for index in range(count):
        body = payload(index)
        invalid += index % 100 == 99
        # Alternate compact and pretty files, as people write both.
        text = json.dumps(body, indent=2 if index % 2 else None)
        (directory / f"p{index:05d}.json").write_text(text + "\n", encoding="utf-8")
        if (index + 1) % step == 0 or index + 1 == count:
            print(f"\rgenerating payload files: {index + 1}/{count}", end="", flush=True)
    print()
    return invalid


def standalone_schema() -> dict[str, Any]:
    """The request-body array schema of the packaged spec, as standalone 2020-12."""
    (doc, *_) = load_documents()
    body_pointer = doc.items_pointer.removesuffix("/items")
    body = resolve_pointer(doc.document, body_pointer)
    text = json.dumps(body)
    if '"$ref": "#' in text:  # local refs would need the document around them
        raise SystemExit("the request-body schema has local $refs; cannot write it standalone")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **body}


def tool(name: str) -> str:
    # Prefer the tool installed beside this interpreter (the project's virtualenv).
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found beside {sys.executable} or on PATH")
    return found


def timed(command: Sequence[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    return time.perf_counter() - start, done


def batches(prefix: Sequence[str], files: Sequence[str]) -> list[list[str]]:
    """Split ``files`` so each command line stays well under the OS limit."""
    limit = os.sysconf("SC_ARG_MAX") // 2 - sum(len(k) + len(v) + 2 for k, v in os.environ.items())
    out: list[list[str]] = []
    current: list[str] = []
    size = sum(len(p) + 1 for p in prefix)
    for name in files:
        if current and size + len(name) + 1 > limit:
            out.append([*prefix, *current])
            current, size = [], sum(len(p) + 1 for p in prefix)
        current.append(name)
        size += len(name) + 1
    out.append([*prefix, *current])
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000, help="payload files (10000)")
    parser.add_argument("--runs", type=int, default=5, help="runs of ltxmock lint (5)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="ltxlint-") as tmp:
        root = Path(tmp)
        payloads = root / "payloads"
        payloads.mkdir()
        invalid = generate(payloads, args.files)
        schema_file = root / "request-body.schema.json"
        schema_file.write_text(json.dumps(standalone_schema()), encoding="utf-8")
        files = sorted(str(p) for p in payloads.iterdir())

        ltxmock = [tool("ltxmock"), "lint", str(payloads)]
        print(f"timing: {' '.join(ltxmock)}  ({args.runs} runs)")
        times = []
        for run in range(args.runs):
            seconds, done = timed(ltxmock)
            times.append(seconds)
            reported = len(done.stdout.splitlines())
            print(f"  run {run + 1}: {seconds:.3f} s, exit {done.returncode}, {reported} problems")
            if done.returncode != (1 if invalid else 0) or reported != invalid:
                print(done.stderr, file=sys.stderr)
                raise SystemExit(f"ltxmock lint did not report the {invalid} invalid files")
        ours = statistics.median(times)

        commands = batches([tool("check-jsonschema"), "--schemafile", str(schema_file)], files)
        print(f"timing: check-jsonschema --schemafile SCHEMA FILES  ({len(commands)} batch(es))")
        theirs = 0.0
        for command in commands:
            seconds, done = timed(command)
            theirs += seconds
            if done.returncode not in (0, 1):
                print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
                raise SystemExit(f"check-jsonschema failed with exit {done.returncode}")
        print(f"  {theirs:.3f} s, exit {done.returncode}")

    rows = [
        ("ltxmock lint", args.files, ours, args.files / ours, 1.0),
        ("check-jsonschema", args.files, theirs, args.files / theirs, theirs / ours),
    ]
    print()
    print(f"{'tool':<18} {'files':>7} {'seconds':>9} {'files/s':>9} {'vs ltxmock':>11}")
    for name, count, seconds, rate, ratio in rows:
        print(f"{name:<18} {count:>7} {seconds:>9.3f} {rate:>9.0f} {ratio:>10.1f}x")
    verdict = "PASS" if ours < TARGET_SECONDS else "FAIL"
    print(
        f"\ntarget: ltxmock lint of {args.files} files < {TARGET_SECONDS:.1f} s "
        f"(median {ours:.3f} s): {verdict}"
    )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
