"""pytest plugin: a live ltxmock server per test, configured with a marker.

    def test_my_client(ltxmock_server):
        client = MyClient(base_url=ltxmock_server.url)
        client.generate("a red fox")
        ltxmock_server.assert_submitted(times=1)

    @pytest.mark.ltxmock(latency=0.5, api_keys=["k1"])
    def test_slow(ltxmock_server): ...

Registered through the ``pytest11`` entry point, so installing ltxmock is enough.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ltxmock.testing import MockServer


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "ltxmock(**config): settings for the ltxmock_server fixture "
        "(any MockConfig field, e.g. latency=0.5, api_keys=['k'])",
    )


@pytest.fixture
def ltxmock_server(request: pytest.FixtureRequest) -> Iterator[MockServer]:
    """A running mock on a free 127.0.0.1 port, with an in-memory store.

    Defaults to ``latency=0`` so tasks succeed on the first poll; override with
    ``@pytest.mark.ltxmock(latency=...)``.
    """
    from ltxmock.testing import MockServer

    settings: dict[str, Any] = {"latency": 0.0}
    for marker in reversed(list(request.node.iter_markers("ltxmock"))):
        settings.update(marker.kwargs)
    with MockServer(**settings) as server:
        yield server
