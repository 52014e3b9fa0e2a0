"""Throughput of this tree's ``ltxmock serve`` against another git ref's, in one run.

For a change whose cost must stay small (the journal's request headers: well
under 5%), the obvious alternative is the code without it. The ref (``main``)
is extracted to a temporary directory laid out as the installed package
(``validators/`` and ``spec/`` inside ``ltxmock/``) and put first on the
PYTHONPATH of the same venv, so both servers run the same dependencies with the
same flags (``bench/server.py``'s: lazy renders, a data dir, serve's workers).
They take turns under the same wrk load, the order flipped every round; the
ratio is the median of the rounds' ratios.

Run from the repository root:  python bench/against_ref.py [--ref main] [--rounds 5]
Needs: wrk, git.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import free_port, ltxmock_command
from server import Load, Server, started_mock, wrk

ROOT = Path(__file__).resolve().parent.parent


def extract(ref: str, into: Path) -> Path:
    """``ref``'s package, importable from ``into`` as ``ltxmock``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "ltxmock", "validators", "spec"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    (into / "validators").rename(into / "ltxmock" / "validators")
    (into / "spec").rename(into / "ltxmock" / "spec")
    return into


def drive(server: Server, kind: str, opts: argparse.Namespace) -> Load:
    script, args = ("submit.lua", []) if kind == "submit" else ("poll.lua", [server.known])
    return wrk(server.url, script, args, duration=opts.duration,
               connections=opts.connections, threads=opts.wrk_threads)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", default="main", help="the git ref to compare with (main)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of every load (5)")
    parser.add_argument("--duration", type=float, default=6, help="seconds per load (6)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (8)")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk threads (2)")
    opts = parser.parse_args(argv)
    extra = ["--latency", "0", "--render-mode", "lazy"]
    rates: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="ltxmock-against-") as scratch:
        base = Path(scratch)
        (base / "ref").mkdir()
        source = extract(opts.ref, base / "ref")
        ports = {"this tree": free_port(), opts.ref: free_port()}
        envs = {"this tree": None, opts.ref: {"PYTHONPATH": str(source)}}
        for name in ports:
            (base / name / "data").mkdir(parents=True)
        with (
            started_mock("this", ltxmock_command(ports["this tree"], *extra, "--data-dir",
                         str(base / "this tree" / "data")), ports["this tree"],
                         base / "this tree" / "data", envs["this tree"]) as ours,
            started_mock("ref", ltxmock_command(ports[opts.ref], *extra, "--data-dir",
                         str(base / opts.ref / "data")), ports[opts.ref],
                         base / opts.ref / "data", envs[opts.ref]) as theirs,
        ):  # fmt: skip
            servers = {"this tree": ours, opts.ref: theirs}
            for server in servers.values():  # warm up: imports, validators, first pages
                wrk(server.url, "submit.lua", [], duration=2, connections=opts.connections,
                    threads=opts.wrk_threads)  # fmt: skip
            for round_ in range(opts.rounds):
                order = list(servers) if round_ % 2 == 0 else list(reversed(servers))
                for kind in ("submit", "poll"):
                    for name in order:
                        load = drive(servers[name], kind, opts)
                        if load.bad:
                            raise SystemExit(f"{name} {kind}: {load.bad} bad answers")
                        rates.setdefault((name, kind), []).append(load.rate)
    print(f"\n{'load (wrk, same run)':<22} {'this tree req/s':>16} {opts.ref + ' req/s':>14} "
          f"{'ratio':>7}")  # fmt: skip
    for kind in ("submit", "poll"):
        mine, ref = rates[("this tree", kind)], rates[(opts.ref, kind)]
        ratio = median(a / b for a, b in zip(mine, ref, strict=True))
        rounds = " ".join(f"{a / b:.2f}" for a, b in zip(mine, ref, strict=True))
        print(f"{kind:<22} {median(mine):>16.0f} {median(ref):>14.0f} {ratio:>7.3f}   ({rounds})")
    print(f"({opts.rounds} rounds of {opts.duration:g} s; medians; ratio = this tree / {opts.ref})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
