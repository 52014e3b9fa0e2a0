"""Credits: a balance that runs out gives 402 insufficientCredits, never retried."""

from __future__ import annotations

import pytest
from conftest import API_KEY, Sleeps
from video_client import InsufficientCreditsError, VideoClient

from ltxmock.testing import MockServer


@pytest.mark.ltxmock(balance=0)
def test_no_credit_is_a_402_the_client_does_not_retry(
    client: VideoClient, ltxmock_server: MockServer, sleeps: Sleeps
) -> None:
    with pytest.raises(InsufficientCreditsError) as refused:
        client.submit("a red fox")
    assert (refused.value.status, refused.value.code) == (402, "insufficientCredits")
    assert sleeps == []
    assert len(ltxmock_server.requests) == 1
    ltxmock_server.assert_not_submitted()


def test_the_balance_is_spent_by_each_video(
    client: VideoClient, ltxmock_server: MockServer
) -> None:
    first = client.generate("a red fox", include_cost=True)
    assert first.cost is not None
    ltxmock_server.set_balance(first.cost * 1.5, api_key=API_KEY)  # one more video, not two
    client.generate("a grey wolf")
    assert ltxmock_server.balance(API_KEY) == pytest.approx(first.cost * 0.5)
    with pytest.raises(InsufficientCreditsError):
        client.generate("a brown bear")
    ltxmock_server.assert_not_submitted(positivePrompt="a brown bear")
