"""The ``ltxmock`` console script."""

from __future__ import annotations

import argparse
import importlib.metadata
from collections.abc import Sequence

from ltxmock.lint import add_lint_command
from ltxmock.proxy.cli import add_proxy_command
from ltxmock.server.serve.cli import add_serve_command


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="ltxmock",
        description="Validate Runware task payloads against the model's OpenAPI document "
        "(lint), and run a local mock of the Runware API (serve).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_lint_command(subparsers)
    add_serve_command(subparsers)
    add_proxy_command(subparsers)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def version() -> str:
    """The installed distribution's version (a source checkout not installed: "unknown")."""
    try:
        return importlib.metadata.version("ltxmock")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
