"""The Flask view and the ASGI app answer ``POST /v1`` alike, byte for byte.

``create_app`` under a WSGI server answers with the Flask view (``http/rest.py``);
``ltxmock serve`` and the test kit with the ASGI app (``serve/asgi.py``). Both
read the body their own way, then share ``parse_request`` and the service. For
the same requests (same clock, same history) the status, the Content-Type, the
body bytes and the journal must be the same.
"""

from __future__ import annotations

import asyncio
import string
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.server import (
    API_KEY,
    FakeClock,
    RawAnswer,
    asgi_request,
    get_response,
    video_task,
)

from ltxmock.server import MockConfig, create_app
from ltxmock.server.core import jsontext
from ltxmock.server.core.faults import FAULT_HEADER
from ltxmock.server.http.app import service_of
from ltxmock.server.serve.asgi import AsgiMock

LIMIT = 2000
HOST = "mock.test:8080"


@dataclass(frozen=True)
class Post:
    """One ``POST``: body bytes, headers (None: leave the header out), path."""

    body: bytes
    content_type: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    path: str = "/v1"

    def header_map(self) -> dict[str, str]:
        sent = {"Authorization": f"Bearer {API_KEY}", **self.headers}
        if self.content_type is not None:
            sent["Content-Type"] = self.content_type
        return sent


def json_post(body: Any, **options: Any) -> Post:
    return Post(jsontext.dumps_bytes(body), **options)


OWN = ("host", "user-agent", "content-length")


class Twins:
    """A Flask app and an ASGI app on one config and clock, fed the same requests."""

    def __init__(self, clock: FakeClock) -> None:
        config = MockConfig(latency=2, clock=clock, render_mode="lazy", max_body_bytes=LIMIT)
        self.flask: Flask = create_app(config)
        self.asgi = AsgiMock(create_app(config))

    def via_flask(self, post: Post) -> RawAnswer:
        response = self.flask.test_client().post(
            post.path, data=post.body, headers=post.header_map(), base_url=f"http://{HOST}"
        )
        headers = {name.lower(): value for name, value in response.headers.items()}
        return RawAnswer(response.status_code, headers, response.get_data())

    def via_asgi(self, post: Post) -> RawAnswer:
        headers = {**post.header_map(), "Content-Length": str(len(post.body))}
        return asyncio.run(
            asgi_request(self.asgi, path=post.path, headers=headers, body=post.body, host=HOST)
        )

    def both(self, post: Post) -> RawAnswer:
        """Send ``post`` to each; assert the answers agree; return the Flask one."""
        flask, asgi = self.via_flask(post), self.via_asgi(post)
        assert (asgi.status, asgi.body) == (flask.status, flask.body), post
        for name in ("content-type", "content-length"):
            assert asgi.headers[name] == flask.headers[name], (name, post)
        assert flask.headers["content-type"] == "application/json"
        return flask

    def journals(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        def entries(app: Flask) -> list[dict[str, Any]]:
            # The headers each test client adds on its own (and their order) differ.
            return [
                {
                    **e.to_dict(),
                    "id": None,
                    "headers": sorted(h for h in e.headers if h[0] not in OWN),
                }
                for e in service_of(app).journal.entries()
            ]

        return entries(self.flask), entries(self.asgi.flask)

    def close(self) -> None:
        service_of(self.flask).close()
        self.asgi.service.close()


@contextmanager
def twins(clock: FakeClock | None = None) -> Iterator[Twins]:
    pair = Twins(clock or FakeClock())
    try:
        yield pair
        flask_journal, asgi_journal = pair.journals()
        assert flask_journal == asgi_journal
    finally:
        pair.close()


# -- the named cases ----------------------------------------------------------------

CASES = {
    "valid submit": (json_post([video_task(taskUUID="2f0f3d1e-9b10-4c8e-9a57-6f1c2b524a5e")]), 200),
    "invalid JSON": (Post(b'[{"taskType": "ping",'), 400),
    "wrong content type": (json_post([{"taskType": "ping"}], content_type="text/plain"), 400),
    "no content type": (json_post([{"taskType": "ping"}], content_type=None), 400),
    "413 by declared length": (Post(b"[" + b" " * (LIMIT * 2) + b"]"), 413),
    "bad fault header": (json_post([{"taskType": "ping"}], headers={FAULT_HEADER: "teapot"}), 400),
    "injected fault": (json_post([{"taskType": "ping"}], headers={FAULT_HEADER: "503"}), 503),
    "poll of an unknown task": (
        json_post([get_response("6f1c2b52-4a5e-4c8e-9a57-2f0f3d1e9b10")]),
        404,
    ),
    "no key": (json_post([{"taskType": "ping"}], headers={"Authorization": ""}), 401),
    "trailing slash": (json_post([{"taskType": "ping"}], path="/v1/"), 200),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_same_post_gets_the_same_bytes_from_both(case: str) -> None:
    post, status = CASES[case]
    with twins() as pair:
        assert pair.both(post).status == status


def test_a_tasks_life_reads_the_same_on_both_including_its_urls() -> None:
    clock = FakeClock()
    task = video_task(numberResults=2, includeCost=True)
    poll = json_post([get_response(task["taskUUID"])])
    with twins(clock) as pair:
        assert pair.both(json_post([task])).status == 200
        assert pair.both(json_post([task])).status == 200  # a retry
        assert b'"processing"' in pair.both(poll).body
        clock.advance(2)
        done = pair.both(poll)
        assert done.body.count(f"http://{HOST}/video/os/".encode()) == 2  # the request's host
        conflict = pair.both(json_post([{**task, "duration": 8}]))
        assert b"conflictTaskUUID" in conflict.body


# -- any of them, with Hypothesis -------------------------------------------------

header_text = st.text(alphabet=string.ascii_letters + string.digits + ":;=/+-. ", max_size=30)
posts = st.one_of(
    st.uuids().map(lambda u: json_post([video_task(taskUUID=str(u))])),
    st.uuids().map(lambda u: json_post([get_response(str(u))])),
    st.binary(max_size=60).map(Post),
    st.text(max_size=40).map(lambda t: Post(t.encode("utf-8"))),
    st.builds(
        lambda content_type: json_post([{"taskType": "ping"}], content_type=content_type),
        st.none() | header_text,
    ),
    st.integers(min_value=LIMIT - 2, max_value=LIMIT * 3).map(
        lambda size: Post(b"[" + b" " * size + b"]")
    ),
    st.builds(
        lambda fault: json_post([{"taskType": "ping"}], headers={FAULT_HEADER: fault}),
        header_text.map(str.strip),
    ),
    st.builds(
        lambda body, path: json_post(body, path=path),
        st.lists(
            st.fixed_dictionaries(
                {"taskType": st.sampled_from(["ping", "getResponse", "videoInference", "x"])},
                optional={"taskUUID": st.uuids().map(str), "duration": st.integers(5, 11)},
            ),
            max_size=3,
        ),
        st.sampled_from(["/v1", "/v1/"]),
    ),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(posts, min_size=1, max_size=3))
def test_any_posts_get_the_same_bytes_from_both(sequence: list[Post]) -> None:
    with twins() as pair:
        for post in sequence:
            pair.both(post)
