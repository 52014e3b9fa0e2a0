"""End-to-end result benchmark: submit -> poll to success -> download, through the app.

Usage: python bench/render_pipeline.py [--executor process|thread|both] [--skip-4k]

Cases (latency 0, so the time is the render plus the protocol):

* 1080p / 6 s / 25 fps MP4      target < 1.5 s
* 4K / 10 s / 50 fps MP4         target < 20 s
* cached repeat: the same task resubmitted (idempotent) and downloaded again:
  the file is served from the cache, nothing is rendered (the card shows the
  task and video UUIDs, so the cache is per result, not per parameter set)
* poll latency p50/p99 of getResponse while a 4K render runs, against idle

Prints a table; exit status 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from ltxmock.server import MockConfig, create_app

KEY = {"Authorization": "Bearer bench"}


def task(width: int, height: int, fps: int, duration: int) -> dict[str, Any]:
    return {
        "taskType": "videoInference",
        "taskUUID": str(uuid.uuid4()),
        "model": "lightricks:2@1",
        "positivePrompt": "A lighthouse on a basalt cliff at dusk, slow aerial orbit",
        "width": width,
        "height": height,
        "fps": fps,
        "duration": duration,
        "providerSettings": {"lightricks": {"generateAudio": True}},
    }


class Bench:
    def __init__(self, executor: str, data_dir: Path) -> None:
        config = MockConfig(latency=0, data_dir=data_dir, render_executor=executor)  # type: ignore[arg-type]
        self.app = create_app(config)
        self.http = self.app.test_client()

    def post(self, body: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.http.post("/v1", json=body, headers=KEY).get_json()
        return result

    def poll(self, task_uuid: str) -> dict[str, Any]:
        return self.post([{"taskType": "getResponse", "taskUUID": task_uuid}])

    def end_to_end(self, body: dict[str, Any]) -> tuple[float, int]:
        start = time.perf_counter()
        self.post([body])
        while True:
            item = self.poll(body["taskUUID"])["data"][0]
            if item["status"] == "success":
                break
            time.sleep(0.02)
        size = len(self.http.get(item["videoURL"].removeprefix("http://localhost")).get_data())
        return time.perf_counter() - start, size

    def poll_latency(self, body: dict[str, Any]) -> tuple[list[float], list[float]]:
        idle_uuid = task(1920, 1080, 25, 6)
        self.end_to_end(idle_uuid)
        idle = self._sample(idle_uuid["taskUUID"], 200)
        self.post([body])
        busy: list[float] = []
        while self.poll(body["taskUUID"])["data"][0]["status"] != "success":
            busy += self._sample(idle_uuid["taskUUID"], 20)
        return idle, busy

    def _sample(self, task_uuid: str, n: int) -> list[float]:
        out = []
        for _ in range(n):
            start = time.perf_counter()
            self.poll(task_uuid)
            out.append((time.perf_counter() - start) * 1000)
            time.sleep(0.005)
        return out

    def close(self) -> None:
        self.app.extensions["ltxmock"].close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(executor: str, skip_4k: bool, rows: list[tuple[str, str, str, bool]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(executor, Path(tmp))
        try:
            bench.end_to_end(task(1920, 1080, 25, 6))  # warm: pool start, imports
            hd = task(1920, 1080, 25, 6)
            seconds, size = bench.end_to_end(hd)
            rows.append(
                (f"{executor}: 1080p/6s/25fps MP4", f"{seconds:.2f} s", "< 1.5 s", seconds < 1.5)
            )
            cached, _ = bench.end_to_end(hd)  # idempotent resubmit + second download
            rows.append(
                (f"{executor}: cached repeat", f"{cached * 1000:.0f} ms", "no render", cached < 0.2)
            )
            if not skip_4k:
                seconds, size = bench.end_to_end(task(3840, 2160, 50, 10))
                rows.append(
                    (
                        f"{executor}: 4K/10s/50fps MP4 ({size / 1e6:.1f} MB)",
                        f"{seconds:.2f} s",
                        "< 20 s",
                        seconds < 20,
                    )
                )
                idle, busy = bench.poll_latency(task(3840, 2160, 50, 10))
                rows.append(
                    (
                        f"{executor}: poll idle p50/p99",
                        f"{pct(idle, 0.5):.1f}/{pct(idle, 0.99):.1f} ms",
                        "",
                        True,
                    )
                )
                rows.append(
                    (
                        f"{executor}: poll during 4K p50/p99",
                        f"{pct(busy, 0.5):.1f}/{pct(busy, 0.99):.1f} ms",
                        "p99 < 100 ms",
                        pct(busy, 0.99) < 100,
                    )
                )
        finally:
            bench.close()  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executor", choices=("process", "thread", "both"), default="both")
    parser.add_argument("--skip-4k", action="store_true")
    args = parser.parse_args()
    rows: list[tuple[str, str, str, bool]] = []
    for executor in ("process", "thread") if args.executor == "both" else (args.executor,):
        print(f"running {executor} ...", file=sys.stderr, flush=True)
        run(executor, args.skip_4k, rows)
    width = max(len(r[0]) for r in rows)
    print(f"{'case':<{width}}  {'result':>14}  {'target':<12}  ok")
    for name, value, target, ok in rows:
        print(f"{name:<{width}}  {value:>14}  {target:<12}  {'yes' if ok else 'NO'}")
    return 0 if all(r[3] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
