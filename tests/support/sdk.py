"""The official Python SDK, runware-sdk 1.8.0 (import name ``runware``), for the tests
that run it unmodified against the mock or the proxy (all on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
from typing import Any

import pytest

from support.server import API_KEY, LiveServer

SDK_VERSION = "1.8.0"


def runware_sdk() -> Any:
    """The ``runware`` module of runware-sdk 1.8.0. The calling module (or test) is
    skipped when another version or none is installed, and fails when the legacy
    ``runware`` package is installed beside it (both write the ``runware`` package)."""
    try:
        installed = importlib.metadata.version("runware-sdk")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(
            f"runware-sdk is not installed (pip install runware-sdk=={SDK_VERSION})",
            allow_module_level=True,
        )
    if installed != SDK_VERSION:
        pytest.skip(
            f"runware-sdk {installed} is installed; these tests pin {SDK_VERSION}",
            allow_module_level=True,
        )
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        legacy = importlib.metadata.version("runware")
        # Same import name: whichever pip installed last overwrote the other's files.
        pytest.fail(
            f"the legacy SDK runware {legacy} is installed next to runware-sdk, and both "
            "write the 'runware' package: uninstall it (test_ws_sdk_legacy.py runs it "
            "from a venv of its own)"
        )
    import runware

    return runware


def run_sdk(
    runware: Any,
    url: str,
    params: dict[str, Any],
    *,
    key: str = API_KEY,
    transport: str = "rest",
    **options: Any,
) -> Any:
    """``client.run(params)`` with the SDK pointed at ``url`` (``POST /v1``) and its
    WebSocket twin through the constructor only; ``options`` go to ``Runware``."""
    return asyncio.run(sdk_run(runware, url, params, key=key, transport=transport, **options))


async def sdk_run(
    runware: Any,
    url: str,
    params: dict[str, Any],
    *,
    key: str = API_KEY,
    transport: str = "rest",
    session: Any = None,
    **options: Any,
) -> Any:
    """``run_sdk`` inside a running loop; ``session``: an aiohttp session handed to the
    SDK through its ``RuntimeDependencies`` (a constructor option, the SDK untouched)."""
    dependencies = runware.RuntimeDependencies(session=session) if session else None
    async with runware.Runware(
        api_key=key,
        transport=transport,
        http_base_url=url,
        ws_base_url=url.replace("http://", "ws://"),
        dependencies=dependencies,
        **options,
    ) as client:
        return await client.run(params)


def exchanges_naming(
    live: LiveServer, task_uuid: str, *, task_type: str | None = None
) -> list[dict[str, Any]]:
    """The journal's exchanges whose request has a task with this taskUUID (and type)."""
    entries = live.admin("GET", "/requests").json()["requests"]
    return [
        e
        for e in entries
        if isinstance(e["request"], list)
        and any(
            isinstance(t, dict)
            and t.get("taskUUID") == task_uuid
            and (task_type is None or t.get("taskType") == task_type)
            for t in e["request"]
        )
    ]
