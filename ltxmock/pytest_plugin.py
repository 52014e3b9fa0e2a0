"""pytest plugin: a live ltxmock server for each test, started once per session.

    def test_my_client(ltxmock_server):
        client = MyClient(base_url=ltxmock_server.url)
        client.generate("a red fox")
        ltxmock_server.assert_submitted(times=1)

    @pytest.mark.ltxmock(latency=0.5, api_keys=["k1"])
    def test_slow(ltxmock_server): ...

``ltxmock_server`` comes from a session-wide ``ServerPool`` (one per xdist
worker): reset before each test, with the marker's run-time settings applied
(latency, api_keys, ...); settings that need a server of their own (data_dir,
max_body_bytes, ...) get one, started once and reused by every test asking
for the same. ``ltxmock_session`` is a session-scoped server for Hypothesis's
``@given`` (no function-scoped fixture involved), reset before each test.

With ``ltxmock_loopback_only = true`` (ini) or ``--ltxmock-loopback-only``, the
session runs inside ``ltxmock.network_guard.loopback_only()`` and each test in
which a lookup of, or connection to, another machine was attempted fails.

Registered through the ``pytest11`` entry point, so installing ltxmock is enough.
Everything here is described in docs/testing.md.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from ltxmock.network_guard import Attempt, LoopbackGuard, loopback_only

if TYPE_CHECKING:
    from ltxmock.testing import MockServer, ServerPool

MARKER = "ltxmock"
FAIL_ON_REJECTED = "fail_on_rejected"
KIT_OPTIONS = (FAIL_ON_REJECTED,)  # marker keywords that are no MockConfig field
FIXTURES = ("ltxmock_server", "ltxmock_session")
TEST_DEFAULTS: dict[str, Any] = {"latency": 0.0}  # tasks succeed at the first poll
LOOPBACK_INI = "ltxmock_loopback_only"
ALLOW_NETWORK = "ltxmock_allow_network"  # marker: the loopback guard is lifted for a test
_GUARD = pytest.StashKey[LoopbackGuard]()
_CHECKED = pytest.StashKey[list[int]]()  # how many of the guard's attempts were reported


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "ltxmock_fail_on_rejected",
        type="bool",
        default=False,
        help="ltxmock: fail a test whose client sent a request the mock rejected "
        "(a 4xx/5xx it was not told to inject); the marker's fail_on_rejected overrides it",
    )
    parser.addini(
        LOOPBACK_INI,
        type="bool",
        default=False,
        help="ltxmock: refuse any name lookup or connection beyond 127.0.0.1/::1 in this "
        "process and fail the test in which one was attempted",
    )
    parser.getgroup("ltxmock").addoption(
        "--ltxmock-loopback-only",
        action="store_true",
        default=False,
        help="as the ini option ltxmock_loopback_only = true",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "ltxmock(**settings): settings for the ltxmock_server fixture (any MockConfig "
        "field, e.g. latency=0.5, api_keys=['k']; and fail_on_rejected=True)",
    )
    config.addinivalue_line(
        "markers",
        f"{ALLOW_NETWORK}: lift the ltxmock loopback guard for this test (real lookups "
        "and connections to other machines go through)",
    )
    if config.getoption("ltxmock_loopback_only") or config.getini(LOOPBACK_INI):
        guard = loopback_only()
        guard.__enter__()
        config.stash[_GUARD] = guard
        config.stash[_CHECKED] = [0]


def pytest_unconfigure(config: pytest.Config) -> None:
    guard = config.stash.get(_GUARD, None)
    if guard is not None:
        guard.__exit__(None, None, None)
        del config.stash[_GUARD]


def marker_settings(node: pytest.Item) -> dict[str, Any]:
    """The ``ltxmock`` markers' keywords (the closest marker wins); a typo fails the
    test with the list of valid settings."""
    from ltxmock.testing import UnknownSettingError, check_settings

    settings: dict[str, Any] = {}
    for marker in reversed(list(node.iter_markers(MARKER))):
        if marker.args:
            pytest.fail(
                f"@pytest.mark.ltxmock takes keywords only (got {marker.args!r})", pytrace=False
            )
        settings.update(marker.kwargs)
    try:
        check_settings(settings, extra=KIT_OPTIONS)
    except UnknownSettingError as exc:
        pytest.fail(f"@pytest.mark.ltxmock: {exc}", pytrace=False)
    return settings


def _server_settings(node: pytest.Item) -> dict[str, Any]:
    return {k: v for k, v in marker_settings(node).items() if k not in KIT_OPTIONS}


@pytest.fixture(scope="session")
def ltxmock_pool() -> Iterator[ServerPool]:
    """The session's servers (``ServerPool``), stopped at the end of the session."""
    from ltxmock.testing import ServerPool

    pool = ServerPool(**TEST_DEFAULTS)
    yield pool
    pool.close()


@pytest.fixture
def ltxmock_server(request: pytest.FixtureRequest, ltxmock_pool: ServerPool) -> MockServer:
    """A running mock on a free 127.0.0.1 port, with an in-memory store, as new.

    Defaults to ``latency=0`` so tasks succeed on the first poll; override with
    ``@pytest.mark.ltxmock(latency=...)``.
    """
    try:
        return ltxmock_pool.acquire(**_server_settings(request.node))
    except ValueError as exc:  # a setting with a value MockConfig refuses
        pytest.fail(f"@pytest.mark.ltxmock: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def ltxmock_session() -> Iterator[MockServer]:
    """A session-scoped mock for ``@given`` tests (passes Hypothesis's health check).

    Reset before each test that uses it (not before each example: give every
    example fresh taskUUIDs, as ``submittable_tasks()`` does, or call ``reset()``).
    The marker's run-time settings apply to it too.
    """
    from ltxmock.testing import MockServer

    with MockServer(**TEST_DEFAULTS) as server:
        yield server


@pytest.fixture(autouse=True)
def _ltxmock_session_per_test(request: pytest.FixtureRequest) -> None:
    # Autouse fixtures are exempt from Hypothesis's function-scoped-fixture check.
    if "ltxmock_session" not in request.fixturenames:
        return
    server: MockServer = request.getfixturevalue("ltxmock_session")
    server.reset()
    try:
        server.configure(**_server_settings(request.node))
    except ValueError as exc:
        pytest.fail(f"@pytest.mark.ltxmock with ltxmock_session: {exc}", pytrace=False)


@pytest.fixture
def ltxmock_loopback_guard(request: pytest.FixtureRequest) -> LoopbackGuard:
    """The session's ``LoopbackGuard`` (with the loopback-only option on): a test that
    provokes an attempt on purpose catches it with ``with guard.expect() as caught:``."""
    guard = request.config.stash.get(_GUARD, None)
    if guard is None:
        pytest.fail(
            f"ltxmock_loopback_guard needs {LOOPBACK_INI} = true or --ltxmock-loopback-only",
            pytrace=False,
        )
    return guard


def _new_attempts(config: pytest.Config) -> list[Attempt]:
    guard = config.stash.get(_GUARD, None)
    if guard is None:
        return []
    checked = config.stash[_CHECKED]
    new, checked[0] = guard.since(checked[0]), guard.count
    return new


def _fail_on_attempts(item: pytest.Item, when: str) -> None:
    # An attempt in another thread (the mock's deliveries) raised there, not in the
    # test: the guard's log is how the test learns of it.
    new = _new_attempts(item.config)
    if new:
        lines = "\n  ".join(str(a) for a in new)
        pytest.fail(
            f"{item.nodeid} tried to reach another machine ({when}; the ltxmock loopback "
            f"guard refused):\n  {lines}\nAim callbacks at a reserved name "
            "(https://hooks.example.com/...) or a 127.0.0.1 receiver.",
            pytrace=False,
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    guard = item.config.stash.get(_GUARD, None)
    if guard is None or item.get_closest_marker(ALLOW_NETWORK) is None:
        return (yield)
    with guard.lifted():
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    result = yield
    _fail_on_attempts(item, "during teardown")
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    try:
        result = yield  # a test that failed by itself is not checked
    except BaseException:
        _new_attempts(item.config)  # its own failure shows the refusal, if any
        raise
    _fail_on_attempts(item, "during setup or the test")
    if _fail_on_rejected(item):
        funcargs: dict[str, Any] = getattr(item, "funcargs", {})
        for name in FIXTURES:
            server = funcargs.get(name)
            if server is not None:
                server.assert_no_rejections()
    return result


def _fail_on_rejected(item: pytest.Item) -> bool:
    if not any(name in getattr(item, "fixturenames", ()) for name in FIXTURES):
        return False
    settings = marker_settings(item)
    if FAIL_ON_REJECTED in settings:
        return bool(settings[FAIL_ON_REJECTED])
    return bool(item.config.getini("ltxmock_fail_on_rejected"))
