"""Helpers shared by the benchmarks: timing, result rows, servers, wrk, Prism."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
WORK = BENCH / ".work"
SPEC = ROOT / "spec" / "lightricks-ltx-2-fast.openapi.json"
PRISM_VERSION = "5.16"
PRISM_DIR = WORK / "prism"
API_KEY = "bench-key"
# The payload every benchmark sends: a typical valid 1080p / 6 s LTX-2 Fast task
# (each adds its own taskUUID and any extra fields).
TYPICAL_TASK: dict[str, Any] = {
    "taskType": "videoInference",
    "model": "lightricks:2@1",
    "positivePrompt": "A lighthouse on a basalt cliff at dusk, waves crashing below",
    "width": 1920,
    "height": 1080,
    "duration": 6,
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Target:
    """One target: a measured figure against its bound, PASS or FAIL."""

    name: str
    value: float
    bound: float
    unit: str
    higher_is_better: bool = False

    @property
    def passed(self) -> bool:
        return self.value >= self.bound if self.higher_is_better else self.value <= self.bound

    def line(self) -> str:
        op = ">=" if self.higher_is_better else "<="
        verdict = "PASS" if self.passed else "FAIL"
        return (
            f"  {verdict}  {self.name}: {self.value:.3g} {self.unit} (target {op} {self.bound:g})"
        )


def report(targets: Sequence[Target]) -> int:
    print("\ntargets:")
    for target in targets:
        print(target.line())
    return 0 if all(t.passed for t in targets) else 1


def percentiles(samples: Sequence[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def time_calls(fn: Callable[[], Any], count: int, *, warmup: int = 200) -> list[float]:
    """Seconds per call, one sample per call."""
    for _ in range(warmup):
        fn()
    clock = time.perf_counter_ns
    samples = []
    for _ in range(count):
        start = clock()
        fn()
        samples.append((clock() - start) / 1e9)
    return samples


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def post(url: str, body: Any, *, timeout: float = 5.0) -> tuple[int, Any]:
    status, reply = post_bytes(url, json.dumps(body).encode(), timeout=timeout)
    return status, json.loads(reply or b"null")


def post_bytes(url: str, data: bytes, *, timeout: float = 5.0) -> tuple[int, bytes]:
    """POST a JSON body as the bench's client: the status and the raw reply, error or not."""
    request = urllib.request.Request(
        url,
        data=data,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_http(url: str, *, method: str = "GET", body: Any = None, limit: float = 30.0) -> float:
    """Poll ``url`` until it answers 200; seconds waited. Raises TimeoutError."""
    start = time.perf_counter()
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"}
    while time.perf_counter() - start < limit:
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=1.0) as response:
                if response.status == 200:
                    return time.perf_counter() - start
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.005)
    raise TimeoutError(f"{url} did not answer 200 within {limit:g} s")


def ltxmock_command(port: int, *extra: str) -> list[str]:
    beside = Path(sys.executable).parent / "ltxmock"
    exe = [str(beside)] if beside.exists() else [sys.executable, "-m", "ltxmock.cli"]
    return [*exe, "serve", "--port", str(port), *extra]


def prism_bin() -> Path:
    return PRISM_DIR / "node_modules" / ".bin" / "prism"


def ensure_prism() -> Path:
    """Install Stoplight Prism into bench/.work/prism with npm on first use."""
    binary = prism_bin()
    if binary.exists():
        return binary
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm not found: install Node.js 18+ and npm to compare with Prism")
    PRISM_DIR.mkdir(parents=True, exist_ok=True)
    package = PRISM_DIR / "package.json"
    if not package.exists():
        package.write_text('{"name": "ltxmock-bench-prism", "private": true}\n')
    log(f"installing @stoplight/prism-cli@{PRISM_VERSION} into {PRISM_DIR} (first run only)...")
    subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", f"@stoplight/prism-cli@{PRISM_VERSION}"],
        cwd=PRISM_DIR,
        check=True,
        timeout=600,
    )
    log("Prism installed.")
    return binary


def prism_command(port: int) -> list[str]:
    # Prism routes by the document's path ("/"), not its server URL's "/v1":
    # the request path is http://127.0.0.1:PORT/. --errors makes it refuse
    # invalid requests (it validates either way); -v warn stops per-request logs.
    return [str(ensure_prism()), "mock", str(SPEC), "-p", str(port), "-h", "127.0.0.1",
            "--errors", "-v", "warn"]  # fmt: skip


@contextlib.contextmanager
def running(
    command: Sequence[str], *, log_path: Path | None = None, env: Mapping[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server process in its own process group (``env`` added to ours); always stop it."""
    out = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(list(command), stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True, env={**os.environ, **(env or {})})  # fmt: skip
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if log_path:
            out.close()  # type: ignore[union-attr]


def child_pids(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def machine() -> dict[str, str]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "ram": mem,
        "python": sys.version.split()[0],
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def process_tree(root: int) -> list[int]:
    """``root`` and every descendant, from the parent pids in /proc/*/stat."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found


def tree_cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU of these processes (threads included), in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")
