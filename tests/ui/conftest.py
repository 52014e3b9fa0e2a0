"""Fixtures of the dashboard tests: an in-process app on a fake clock (``client``) for
the page's files and the admin routes it reads, and, for the browser tests, a live
mock (``live``) with headless Chromium from Debian's package (``page``).

The browser is Debian's ``chromium`` (``.ci/run`` installs it), driven by
Playwright; Playwright's own browser download is never used. Without
``/usr/bin/chromium`` the browser tests are skipped, except under CI
(``CI=true``), where its absence fails them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.app_fixtures import client, clock, mock_app, mock_config, service
from support.server import MockClient

from ltxmock.server import MockConfig, create_app
from ltxmock.server.http.app import service_of
from ltxmock.testing import MockServer

__all__ = ["client", "clock", "mock_app", "mock_config", "service"]  # shared fixtures

CHROMIUM = Path(os.environ.get("LTXMOCK_CHROMIUM", "/usr/bin/chromium"))


@pytest.fixture(scope="module")
def shared_client() -> Iterator[MockClient]:
    """One app for every example of a Hypothesis test (a function-scoped one would be
    shared by the examples anyway, and Hypothesis refuses that)."""
    app = create_app(MockConfig(render_mode="lazy"))
    yield MockClient(app)
    service_of(app).close()


# -- the browser tests -------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Module scope, not session: Playwright's sync API keeps an event loop running
    # in this thread while it is started, and later tests of the same worker that
    # call asyncio.run() (tests/server/http/test_parity.py) would fail.
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
        pytest.skip(f"no {CHROMIUM}: apt-get install chromium (as .ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield browser
        browser.close()


@pytest.fixture
def live() -> Iterator[MockServer]:
    """A mock on a loopback port: 1.5 s latency, so a task is seen processing first."""
    with MockServer(latency=1.5) as server:
        yield server


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"the page raised: {errors}"
