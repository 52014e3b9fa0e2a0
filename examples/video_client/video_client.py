"""A small client of the Runware video API (model LTX-2 Fast): submit a task,
poll it, download the video; retry 429 and 503 answers, honouring
``Retry-After``; read webhook deliveries.

    client = VideoClient(api_key="...")
    video = client.generate("a red fox runs through snow", duration=6)
    client.download(video, Path("fox.mp4"))

It is the code under test of this example: its contract tests (tests/) run it
against ltxmock, never against api.runware.ai.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

RUNWARE_URL = "https://api.runware.ai/v1"
MODEL = "lightricks:2@1"
RETRYABLE = frozenset({429, 503})


class RunwareError(Exception):
    """An error item of the API: its ``code``, the HTTP ``status`` and the task."""

    def __init__(self, code: str, message: str, *, status: int, task_uuid: str | None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.task_uuid = task_uuid


class InsufficientCreditsError(RunwareError):
    """402: the account's balance does not cover the task (never retried)."""


class RateLimitedError(RunwareError):
    """429 or 503 still, after every retry."""


class TaskFailedError(RunwareError):
    """The task was accepted and then failed (the poll or webhook says ``error``)."""


@dataclass(frozen=True)
class Video:
    task_uuid: str
    video_uuid: str
    url: str
    cost: float | None = None


class VideoClient:
    """Submit, poll and download LTX-2 Fast videos.

    ``http`` lets tests pass an ``httpx.Client`` of their own (an in-process
    transport); ``sleep`` is how the client waits (between polls, before a
    retry), so tests need not wait for real.
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = RUNWARE_URL,
        http: httpx.Client | None = None,
        max_retries: int = 3,
        max_retry_after: float = 60.0,
        poll_interval: float = 2.0,
        max_polls: int = 300,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url
        self.http = http or httpx.Client(timeout=30.0)
        self.max_retries = max_retries
        self.max_retry_after = max_retry_after
        self.poll_interval = poll_interval
        self.max_polls = max_polls
        self.sleep = sleep
        self._headers = {"Authorization": f"Bearer {api_key}"}

    # -- the API ---------------------------------------------------------------
    def submit(
        self,
        prompt: str,
        *,
        duration: int = 6,
        width: int = 1920,
        height: int = 1080,
        webhook_url: str | None = None,
        include_cost: bool = False,
    ) -> str:
        """Submit a text-to-video task; returns its taskUUID (the video comes later)."""
        task: dict[str, Any] = {
            "taskType": "videoInference",
            "taskUUID": str(uuid.uuid4()),
            "model": MODEL,
            "positivePrompt": prompt,
            "width": width,
            "height": height,
            "duration": duration,
            "deliveryMethod": "async",
        }
        if webhook_url is not None:
            task["webhookURL"] = webhook_url
        if include_cost:
            task["includeCost"] = True
        return self.submit_task(task)

    def submit_task(self, task: Mapping[str, Any]) -> str:
        """Submit a task given as JSON (it keeps its own taskUUID); returns the taskUUID."""
        body = self._post([dict(task)])
        (ack,) = [item for item in body.get("data", []) if item.get("taskUUID") == task["taskUUID"]]
        return str(ack["taskUUID"])

    def poll(self, task_uuid: str) -> Video | None:
        """The video if the task is done, None while it is processing;
        TaskFailedError if it failed."""
        body = self._post([{"taskType": "getResponse", "taskUUID": task_uuid}])
        for error in body.get("errors", []):
            raise TaskFailedError(
                error.get("code", "unknown"),
                error.get("message", ""),
                status=200,
                task_uuid=error.get("taskUUID", task_uuid),
            )
        for item in body.get("data", []):
            if item.get("taskUUID") == task_uuid and item.get("status") == "success":
                return _video(item)
        return None

    def wait(self, task_uuid: str) -> Video:
        """Poll until the task is done (``max_polls`` times at most)."""
        for _ in range(self.max_polls):
            video = self.poll(task_uuid)
            if video is not None:
                return video
            self.sleep(self.poll_interval)
        raise TimeoutError(f"task {task_uuid} still processing after {self.max_polls} polls")

    def generate(self, prompt: str, **options: Any) -> Video:
        """Submit and wait."""
        return self.wait(self.submit(prompt, **options))

    def download(self, video: Video, destination: Path) -> Path:
        """Write the video's file to ``destination``."""
        with self.http.stream("GET", video.url) as response:
            response.raise_for_status()
            with destination.open("wb") as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)
        return destination

    # -- HTTP ------------------------------------------------------------------
    def _post(self, body: list[dict[str, Any]]) -> dict[str, Any]:
        task_uuid = next((t.get("taskUUID") for t in body if "taskUUID" in t), None)
        for attempt in range(self.max_retries + 1):
            response = self.http.post(self.base_url, json=body, headers=self._headers)
            if response.status_code not in RETRYABLE or attempt == self.max_retries:
                break
            # Same body, same taskUUID: the API acks a task it already has.
            self.sleep(self._retry_delay(response, attempt))
        payload = _json(response)
        if response.status_code >= 400:
            raise _error(response.status_code, payload, task_uuid)
        return payload

    def _retry_delay(self, response: httpx.Response, attempt: int) -> float:
        header = response.headers.get("Retry-After")
        if header is not None:
            try:
                return min(max(float(header), 0.0), self.max_retry_after)
            except ValueError:
                pass  # an HTTP date: not sent by this API; back off instead
        return min(0.5 * 2.0**attempt, self.max_retry_after)


def parse_webhook(payload: bytes | str | Mapping[str, Any]) -> Video:
    """A webhook delivery's body (the task's item, or ``{"data": [item]}``) as a
    Video; TaskFailedError if it reports an error."""
    item: Any = json.loads(payload) if isinstance(payload, bytes | str) else payload
    if isinstance(item, Mapping) and "data" in item:
        (item,) = item["data"]
    if isinstance(item, Mapping) and "errors" in item:
        (item,) = item["errors"]
    if not isinstance(item, Mapping):
        raise ValueError("a webhook body is a JSON object")
    if item.get("status") == "error" or "code" in item:
        raise TaskFailedError(
            str(item.get("code", "unknown")),
            str(item.get("message", "")),
            status=200,
            task_uuid=item.get("taskUUID"),
        )
    return _video(item)


def _video(item: Mapping[str, Any]) -> Video:
    return Video(
        task_uuid=str(item["taskUUID"]),
        video_uuid=str(item["videoUUID"]),
        url=str(item["videoURL"]),
        cost=item.get("cost"),
    )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        payload = None
    return payload if isinstance(payload, dict) else {}


def _error(status: int, payload: Mapping[str, Any], task_uuid: str | None) -> RunwareError:
    errors = payload.get("errors") or [{}]
    first = errors[0] if isinstance(errors[0], Mapping) else {}
    code = str(first.get("code", f"http{status}"))
    message = str(first.get("message", ""))
    kinds = {402: InsufficientCreditsError, 429: RateLimitedError, 503: RateLimitedError}
    kind = kinds.get(status, RunwareError)
    return kind(code, message, status=status, task_uuid=first.get("taskUUID", task_uuid))
