"""A videoInference task's life, computed from its record and the time.

Nothing advances a task: ``poll(record, now=...)`` derives the state from when
it was submitted and its latency, so every process (and every restart) gives
the same answer, and tests move time by passing ``now``. The one input from
outside is whether each result's video file is rendered (``ResultState``): a
result whose latency has passed but whose file is not ready stays processing.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from . import jsontext
from .cost import result_cost
from .errors import ErrorItem, error_item
from .faults import TASK_FAILURE_DOCS, Fault
from .records import TaskRecord

# Fixed, so a task's videoUUIDs are the same in every process and run.
VIDEO_NAMESPACE = uuid.UUID("6f1f3c3e-2f2a-5d0c-9a57-1c7e0d4b8a11")
DEFAULT_FORMAT = "MP4"
MAX_RESULTS = 16  # results per task a videoUUID can name (the documents allow up to 4)
_UUID_FIXED_BITS = (0xF << 76) | (0x7 << 61)  # a UUID's version and variant

Item = dict[str, Any]
RENDER_FAILED = "processingFailed"
RENDERING_PROGRESS = 99  # latency over, file still being written


@dataclass(frozen=True)
class ResultState:
    """Whether one result's video file exists; ``error`` if its render failed;
    ``deferred`` if the result is reported done and its file is made on demand
    (the render backlog was full, or the media budget evicted it)."""

    ready: bool
    error: str | None = None
    deferred: bool = False

    @property
    def done(self) -> bool:
        """Reported as a success (its file exists, or is rendered when asked for)."""
        return self.ready or self.deferred


READY = ResultState(ready=True)
DEFERRED = ResultState(ready=False, deferred=True)


def canonical_json(task: Mapping[str, Any]) -> str:
    """The task as one stable string: same parameters, same text."""
    return jsontext.dumps_sorted(task)


def params_hash(task: Mapping[str, Any]) -> str:
    return _sha256(canonical_json(task))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def new_task(
    task: Mapping[str, Any],
    *,
    key_fingerprint: str,
    now: float,
    latency: float,
    default_ttl: float,
    failure: Fault | None = None,
) -> TaskRecord:
    """The record of a freshly accepted (already validated) task."""
    task_uuid = str(task["taskUUID"])
    canonical = canonical_json(task)
    seed = int.from_bytes(hashlib.sha256(task_uuid.lower().encode()).digest()[:4], "big") >> 1
    return TaskRecord(
        task_uuid=task_uuid,
        task_type=str(task["taskType"]),
        key_fingerprint=key_fingerprint,
        params=jsontext.loads(canonical),  # a deep copy, keys in canonical order
        params_hash=_sha256(canonical),
        submitted_at=now,
        latency=latency,
        seed=seed,
        number_results=int(task.get("numberResults", 1)),
        ttl=float(task.get("ttl", default_ttl)),
        failure_code=failure.code if failure else None,
        failure_message=failure.message if failure else None,
    )


def ack(record: TaskRecord) -> Item:
    # Exactly these two keys: the SDKs take any *URL key or a code as a result/error.
    return {"taskType": record.task_type, "taskUUID": record.task_uuid}


@lru_cache(maxsize=4096)  # polled tasks ask again and again
def video_uuid(task_uuid: str, index: int) -> str:
    """The videoUUID of result ``index``: deterministic, distinct per result.

    The task's UUID with bits flipped by a mask per index (never its version
    or variant bits), so a download finds its task from the URL alone
    (``task_uuids_of_video``) and nothing about a result is stored until its
    file is rendered.
    """
    try:
        value = uuid.UUID(task_uuid).int
    except ValueError:  # not a UUID (never accepted by the API): a one-way name
        return str(uuid.uuid5(VIDEO_NAMESPACE, f"{task_uuid.lower()}/{index}"))
    return str(uuid.UUID(int=value ^ _result_mask(index)))


def task_uuids_of_video(video: str) -> dict[str, int]:
    """Every taskUUID (with its result index) whose result could be this videoUUID."""
    value = uuid.UUID(video).int
    return {str(uuid.UUID(int=value ^ _result_mask(i))): i for i in range(MAX_RESULTS)}


@lru_cache(maxsize=MAX_RESULTS)
def _result_mask(index: int) -> int:
    digest = hashlib.sha256(VIDEO_NAMESPACE.bytes + index.to_bytes(4, "big")).digest()
    return int.from_bytes(digest[:16], "big") & ~_UUID_FIXED_BITS


def video_url(base_url: str, record: TaskRecord, index: int) -> str:
    """Shaped like the real ``…/video/os/<6 hex>/ws/2/vi/<videoUUID>.mp4``."""
    video = video_uuid(record.task_uuid, index)
    extension = str(record.params.get("outputFormat", DEFAULT_FORMAT)).lower()
    return f"{base_url.rstrip('/')}/video/os/{url_shard(video)}/ws/2/vi/{video}.{extension}"


def url_shard(video: str) -> str:
    """The ``<6 hex>`` path segment of a videoURL: derived from its videoUUID."""
    return hashlib.sha256(video.lower().encode()).hexdigest()[:6]


def progress(record: TaskRecord, now: float) -> int:
    """0-99 while processing (rising with time), 100 once the latency has passed."""
    if now >= record.completes_at:
        return 100
    elapsed = max(0.0, now - record.submitted_at)
    return min(99, int(100 * elapsed / record.latency))


def poll(
    record: TaskRecord,
    *,
    now: float,
    base_url: str,
    results: Sequence[ResultState] | None = None,
) -> tuple[list[Item], list[ErrorItem]]:
    """The cumulative state at ``now``: (data items, errors items).

    ``results`` (one per result) says which files are rendered; None: all are.
    """
    if now < record.completes_at:
        return [processing_item(record, progress(record, now))] * record.number_results, []
    if record.failure_code is not None:
        # One failure for the whole task: its results are indistinguishable
        # without a videoUUID, and the SDKs stop at the first error anyway.
        return [], [task_failure_item(record)]
    data: list[Item] = []
    errors: list[ErrorItem] = []
    for index in range(record.number_results):
        state = results[index] if results is not None else READY
        if state.error is not None:
            errors.append(render_failure_item(record, state.error))
        elif state.done:
            data.append(success_item(record, index, base_url))
        else:
            data.append(processing_item(record, RENDERING_PROGRESS))
    return [dict(item) for item in data], errors


def processing_item(record: TaskRecord, percent: int) -> Item:
    # No *URL key: the SDKs would take it for a finished result.
    return {
        "taskType": record.task_type,
        "taskUUID": record.task_uuid,
        "status": "processing",
        "progress": percent,
    }


def success_item(record: TaskRecord, index: int, base_url: str) -> Item:
    """Result ``index`` as getResponse (and the webhook) shows it once it is done."""
    result: Item = {
        "taskType": record.task_type,
        "taskUUID": record.task_uuid,
        "status": "success",
        "videoUUID": video_uuid(record.task_uuid, index),
        "videoURL": video_url(base_url, record, index),
    }
    if record.params.get("includeCost") is True:
        result["cost"] = result_cost(record.params)
    return result


def task_failure_item(record: TaskRecord) -> ErrorItem:
    """The error of a task an injected fault made fail."""
    failure = Fault.task_failure(record.failure_code or "", message=record.failure_message)
    return failure.task_error(record.task_uuid, record.task_type)


def render_failure_item(record: TaskRecord, detail: str) -> ErrorItem:
    """The error of a result whose video could not be rendered (a mock-side failure)."""
    return error_item(
        RENDER_FAILED,
        f"The video could not be generated: {detail}",
        documentation=TASK_FAILURE_DOCS,
        task_uuid=record.task_uuid,
        task_type=record.task_type,
        status="error",
    )
