"""The proxy's added latency: one request at a time, direct to an upstream ltxmock and
through ``ltxmock proxy`` to the same upstream, in one run.

Upstream: ``ltxmock serve --workers 1 --render-mode lazy --latency 0``. Proxy:
``ltxmock proxy --upstream <it>``. One keep-alive connection each (``http.client``);
the two paths alternate request by request, so both see the same machine. For each
kind of request (a ``getResponse`` poll of a finished task, a ``ping``, a submit
with a fresh taskUUID) the p50 and p99 of each path are printed, and the added
latency (through minus direct, at the same percentile). Target: under 1 ms added
at p50 for each kind (openapi-core's checks of the request and of the answer run
on the proxy's checker thread, off the forwarding path). A second run, through a
proxy with ``--openapi-gate`` (openapi-core's request check in front of the
upstream), shows what that option costs; it has no target.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import time
import uuid
from collections.abc import Sequence
from typing import Any

from _common import (
    API_KEY,
    TYPICAL_TASK,
    Target,
    free_port,
    log,
    ltxmock_command,
    percentiles,
    process_tree,
    report,
    running,
    tree_cpu_seconds,
    wait_http,
)


def proxy_command(port: int, upstream: str) -> list[str]:
    serve = ltxmock_command(port)
    exe = serve[: serve.index("serve")]
    return [*exe, "proxy", "--port", str(port), "--upstream", upstream]


class Client:
    """One keep-alive HTTP/1.1 connection to ``POST /v1``."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}

    def post(self, body: Any) -> tuple[float, int]:
        raw = json.dumps(body).encode()
        started = time.perf_counter()
        self.conn.request("POST", "/v1", raw, self.headers)
        answer = self.conn.getresponse()
        answer.read()
        return time.perf_counter() - started, answer.status


def bodies(kind: str, known: str) -> Any:
    if kind == "poll":
        return [{"taskType": "getResponse", "taskUUID": known}]
    if kind == "ping":
        return [{"taskType": "ping"}]
    return [{**TYPICAL_TASK, "taskUUID": str(uuid.uuid4())}]


def measure(
    count: int, *, gate: bool = False
) -> tuple[dict[str, dict[str, list[float]]], dict[str, float]]:
    """Alternate direct and proxied requests of each kind; the proxy's CPU per request."""
    up_port, proxy_port = free_port(), free_port()
    upstream = f"http://127.0.0.1:{up_port}/v1"
    serve = ltxmock_command(
        up_port, "--workers", "1", "--render-mode", "lazy", "--latency", "0", "--api-key", API_KEY
    )
    command = proxy_command(proxy_port, upstream) + (["--openapi-gate"] if gate else [])
    times: dict[str, dict[str, list[float]]] = {}
    cpu: dict[str, float] = {}  # the proxy's CPU per request, checks included
    with running(serve), running(command) as proxy:
        wait_http(f"http://127.0.0.1:{up_port}/__ltxmock/health")
        wait_http(f"http://127.0.0.1:{proxy_port}/__ltxmock/health")
        direct, through = Client(up_port), Client(proxy_port)
        known = str(uuid.uuid4())
        direct.post([{**TYPICAL_TASK, "taskUUID": known}])
        for kind in ("poll", "ping", "submit"):
            log(f"{kind}: {count} requests each way, alternating{' (gate)' if gate else ''}")
            for _ in range(200):  # warm both paths up
                direct.post(bodies(kind, known))
                through.post(bodies(kind, known))
            samples: dict[str, list[float]] = {"direct": [], "proxy": []}
            _get(proxy_port, "/__ltxmock/drift")  # the checks of the warm-up are done
            proxy_tree = process_tree(proxy.pid)  # the checker process included
            before = tree_cpu_seconds(proxy_tree)
            for _ in range(count):
                for name, client in (("direct", direct), ("proxy", through)):
                    elapsed, status = client.post(bodies(kind, known))
                    if status != 200:
                        raise RuntimeError(f"{name} {kind}: HTTP {status}")
                    samples[name].append(elapsed)
            times[kind] = samples
            time.sleep(0.5)  # the checker process catches up (its CPU counts)
            cpu[kind] = (tree_cpu_seconds(proxy_tree) - before) / count
        drift = json.loads(_get(proxy_port, "/__ltxmock/drift"))
        log(f"drift seen by the proxy during the run: {drift['total']}")
    return times, cpu


def _get(port: int, path: str) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path)
    return conn.getresponse().read()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=2000, help="requests per kind and path")
    parser.add_argument(
        "--no-gate", action="store_true", help="skip the run through a proxy with --openapi-gate"
    )
    args = parser.parse_args(argv)
    runs = {"proxy": measure(args.count)}
    if not args.no_gate:
        runs["gated"] = measure(args.count, gate=True)
    print(
        f"{'request':<8} {'path':<6} {'direct p50':>11} {'p50':>9} {'added p50':>10} "
        f"{'direct p99':>11} {'p99':>9} {'added p99':>10} {'p50 ratio':>9} {'CPU/req':>10}"
    )
    targets = []
    for kind in ("poll", "ping", "submit"):
        for name, (times, cpu) in runs.items():
            d50, d99 = percentiles(times[kind]["direct"])
            p50, p99 = percentiles(times[kind]["proxy"])
            print(
                f"{kind:<8} {name:<6} {d50 * 1e3:>9.3f}ms {p50 * 1e3:>7.3f}ms "
                f"{(p50 - d50) * 1e3:>8.3f}ms {d99 * 1e3:>9.3f}ms {p99 * 1e3:>7.3f}ms "
                f"{(p99 - d99) * 1e3:>8.3f}ms {p50 / d50:>8.2f}x {cpu[kind] * 1e6:>7.0f} us"
            )
            if name == "proxy":
                added = (p50 - d50) * 1e3
                targets.append(Target(f"proxy: added latency of a {kind}, p50", added, 1.0, "ms"))
    return report(targets)


if __name__ == "__main__":
    sys.exit(main())
