"""The fast verdict (``RequestValidator.is_valid``) against the detailed one (``validate``).

``tests/validation/test_properties.py`` already compares the two engines per
task and on mixed bodies; this file covers what it does not: whole request
bodies with authentication elements anywhere, repeated taskUUIDs
(case-insensitively, and getResponse, which may repeat), utility tasks, and
arbitrary nested garbage; and the server's REST accept path (the bytes of a
``POST /v1`` read by ``parse_request``, then ``MockService.handle``), which must
take the fast verdict for a valid body and accept exactly what ``is_valid``
accepts. No timing here: see bench/.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from ltxmock.validators import RequestValidator, TaskSchema, default_validator

from ltxmock import strategies as S  # noqa: N812
from ltxmock.server.core import jsontext
from ltxmock.server.core.config import MockConfig
from ltxmock.server.core.service import MockService
from ltxmock.server.http.request import parse_request
from ltxmock.server.store import open_store

VALIDATOR = default_validator()


def agree(body: Any) -> bool:
    fast: bool = VALIDATOR.is_valid(body)
    assert fast == (VALIDATOR.validate(body) == []), body
    return fast


def _case_variant(text: Any, upper: bool) -> Any:
    return text.upper() if upper and isinstance(text, str) else text


tasks = st.one_of(
    S.valid_tasks(),
    S.utility_tasks(),
    S.authentication_tasks(),
    S.invalid_tasks().map(lambda bad: bad.task),
    S.tasks_with_arbitrary_values(),
)

garbage = st.recursive(
    S.json_scalars(),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=20,
)


@given(st.lists(tasks, min_size=1, max_size=4), st.data())
def test_bodies_with_authentication_anywhere(body: list[Any], data: st.DataObject) -> None:
    auth = data.draw(S.authentication_tasks())
    where = data.draw(st.integers(0, len(body)))
    agree([*body[:where], auth, *body[where:]])


@given(st.lists(tasks, min_size=1, max_size=3), st.data())
def test_repeated_task_uuids(body: list[Any], data: st.DataObject) -> None:
    source = data.draw(st.sampled_from(body))
    repeat = copy.deepcopy(data.draw(st.sampled_from(body)))
    if isinstance(source.get("taskUUID"), str):
        repeat["taskUUID"] = _case_variant(source["taskUUID"], data.draw(st.booleans()))
    agree([*body, repeat])


@given(st.lists(S.utility_tasks(), min_size=1, max_size=4), st.booleans())
def test_utility_bodies_and_repeated_polls(body: list[Any], twice: bool) -> None:
    polls = [t for t in body if t.get("taskType") == "getResponse"]
    agree(body + polls if twice else body)


@given(
    st.one_of(
        garbage,
        st.lists(garbage, max_size=4),
        st.lists(
            st.dictionaries(
                st.sampled_from(["taskType", "taskUUID", "model", "apiKey"]), garbage, max_size=4
            ),
            max_size=3,
        ),
        st.builds(
            lambda task, junk: [{**task, **junk}],
            tasks,
            st.dictionaries(st.text(max_size=8), garbage, max_size=2),
        ),
    )
)
def test_arbitrary_nested_garbage(body: Any) -> None:
    agree(body)


def test_deep_nesting_is_judged_alike() -> None:
    deep: Any = "x"
    for _ in range(200):
        deep = {"a": [deep]}
    valid = {"taskType": "ping", "ping": True}
    agree([{**valid, "extra": deep}])
    agree([deep])


class Counting:
    """A compiled validator that counts its calls (wraps the real one)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    def is_valid(self, task: Any) -> bool:
        self.calls += 1
        return bool(self.inner.is_valid(task))


# One service for every example: services start background threads (deliveries).
COUNTED = RequestValidator(VALIDATOR.documents)
SCHEMAS = [s for group in COUNTED._by_task_type.values() for s in group]
for _schema in SCHEMAS:
    _schema.compiled = Counting(_schema.compiled)
CONFIG = MockConfig(latency=0, render_mode="lazy")
SERVICE = MockService(CONFIG, store=open_store(CONFIG), validator=COUNTED)
HEADERS = {"content-type": "application/json", "authorization": "Bearer k"}


@given(S.valid_requests(max_tasks=3, with_utility_tasks=False))
def test_server_accepts_valid_bodies_on_the_fast_path(body: list[Any]) -> None:
    SERVICE.reset()  # examples reuse taskUUIDs
    for schema in SCHEMAS:
        schema.compiled.calls = 0
    assert COUNTED.is_valid(body)
    raw = jsontext.dumps_bytes(body)
    request = parse_request(
        path="/v1",
        headers={**HEADERS, "content-length": str(len(raw))},
        body=raw,
        limit=CONFIG.max_body_bytes,
        base_url="http://x",
    )
    assert request.refusal is None
    assert (request.body, request.api_key) == (body, "k")
    reply = SERVICE.handle(request)
    assert reply.status == 200, reply.payload
    # Accepted on the compiled verdict alone: jsonschema was never even built.
    assert all(isinstance(s, TaskSchema) and s._detailed is None for s in SCHEMAS)
    judged = sum(1 for task in body if task["taskType"] != "authentication")
    assert sum(s.compiled.calls for s in SCHEMAS) >= judged
