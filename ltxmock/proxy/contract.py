"""openapi-core's request and response validation against the loaded documents.

The proxy's checks of the contract itself: a model task's request body is
validated by openapi-core (behind the fast validator, which explains), and
every upstream answer (REST response or WebSocket frame) is validated against
the document's response schemas for its status.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.exceptions import OpenAPIError
from werkzeug.datastructures import Headers, ImmutableMultiDict

from ltxmock.validators import ModelDocument

JSON_TYPE = "application/json"
CACHED_ANSWERS = 1024
CACHED_BODY_BYTES = 16 * 1024
# Authentication is the upstream's business: the document's bearer scheme is
# satisfied with a placeholder, and the caller's key never reaches openapi-core.
_PLACEHOLDER_AUTH = {"Authorization": "Bearer placeholder"}


@dataclass(frozen=True)
class _Request:
    """openapi-core's ``Request`` protocol for one ``POST`` of a document."""

    host_url: str
    path: str
    body: bytes
    method: str = "post"
    content_type: str = JSON_TYPE
    parameters: RequestParameters = field(
        default_factory=lambda: RequestParameters(
            query=ImmutableMultiDict(),
            header=Headers(_PLACEHOLDER_AUTH),
            cookie=ImmutableMultiDict(),
            path={},
        )
    )


@dataclass(frozen=True)
class _Response:
    """openapi-core's ``Response`` protocol."""

    data: bytes
    status_code: int
    content_type: str = JSON_TYPE
    headers: Headers = field(default_factory=Headers)


class _Operation:
    """A document's ``POST`` operation: its openapi-core spec and request address."""

    def __init__(self, document: ModelDocument) -> None:
        self.document = document
        self.openapi = OpenAPI.from_dict(dict(document.document))
        raw = document.document
        servers = raw.get("servers") or [{"url": "/"}]
        server = urlsplit(str(servers[0].get("url", "/")))
        post_path = next(
            (
                p
                for p, ops in raw.get("paths", {}).items()
                if isinstance(ops, Mapping) and "post" in ops
            ),
            "/",
        )
        # openapi-core joins host_url and path itself to find the server.
        self.host_url = (
            f"{server.scheme}://{server.netloc}" if server.netloc else "http://localhost"
        )
        self.path = server.path.rstrip("/") + post_path
        self.any_request = _Request(self.host_url, self.path, b"[]")


class Contract:
    """openapi-core's verdicts for the model documents a validator loaded."""

    def __init__(self, documents: Sequence[ModelDocument]) -> None:
        self._operations = [_Operation(doc) for doc in documents]
        self._by_model = {
            (op.document.task_type, op.document.air_id): op for op in self._operations
        }
        self._verdicts: dict[tuple[int, bytes], tuple[str, ...]] = {}  # one thread: the checker

    def check_request(self, body: Any) -> list[str]:
        """Problems openapi-core finds in the model tasks of ``body`` (a task array, or
        one task as a WebSocket frame may carry it; one call per model)."""
        if isinstance(body, dict):
            body = [body]
        if not isinstance(body, list):
            return []
        groups: dict[tuple[str, str], list[Any]] = {}
        for task in body:
            if isinstance(task, dict):
                key = (str(task.get("taskType")), str(task.get("model")))
                if key in self._by_model:
                    groups.setdefault(key, []).append(task)
        problems = []
        for key, tasks in groups.items():
            op = self._by_model[key]
            request = _Request(op.host_url, op.path, json.dumps(tasks).encode())
            problems += _problems(
                lambda op=op, request=request: op.openapi.validate_request(request)
            )
        return problems

    def check_response(self, status: int, body: bytes) -> list[str]:
        """Problems with an upstream answer: a status the documents do not describe, or a
        body their schema for it rejects. Accepted if any document accepts it.

        Polls of a finished task repeat the same bytes: a small answer's verdict is
        remembered (``CACHED_ANSWERS`` of them, each under ``CACHED_BODY_BYTES``).
        """
        if len(body) > CACHED_BODY_BYTES:
            return self._check_response(status, body)
        key = (status, body)
        cached = self._verdicts.get(key)
        if cached is None:
            cached = self._verdicts[key] = tuple(self._check_response(status, body))
            if len(self._verdicts) > CACHED_ANSWERS:
                self._verdicts.pop(next(iter(self._verdicts)))  # the oldest
        return list(cached)

    def _check_response(self, status: int, body: bytes) -> list[str]:
        found: list[str] = []
        response = _Response(body, status)
        for op in self._operations:
            problems = _problems(
                lambda op=op: op.openapi.validate_response(op.any_request, response)
            )
            if not problems:
                return []
            found = found or problems
        return found


def _problems(check: Any) -> list[str]:
    try:
        check()
    except OpenAPIError as exc:
        return [_describe(exc)]
    return []


def _describe(exc: BaseException) -> str:
    """openapi-core's error with the schema errors under it, in one line."""
    text = str(exc)
    cause = exc.__cause__
    details = getattr(cause, "schema_errors", None) or getattr(exc, "schema_errors", None)
    if details:
        parts = []
        for error in list(details)[:5]:
            where = "/".join(str(p) for p in getattr(error, "absolute_path", ()))
            parts.append(f"{where or '(root)'}: {getattr(error, 'message', error)}")
        text = f"{type(exc).__name__}: " + "; ".join(parts)
    elif cause is not None and str(cause) and str(cause) not in text:
        text = f"{text}: {cause}"
    return text[:1000]
