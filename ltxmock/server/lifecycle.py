"""A videoInference task's life, computed from its record and the time.

Nothing advances a task: ``poll(record, now=...)`` derives the state from when
it was submitted and its latency, so every process (and every restart) gives
the same answer, and tests move time by passing ``now``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from typing import Any

from .cost import result_cost
from .errors import ErrorItem
from .faults import Fault
from .store import TaskRecord

# Fixed, so a task's videoUUIDs are the same in every process and run.
VIDEO_NAMESPACE = uuid.UUID("6f1f3c3e-2f2a-5d0c-9a57-1c7e0d4b8a11")
DEFAULT_FORMAT = "MP4"

Item = dict[str, Any]


def canonical_json(task: Mapping[str, Any]) -> str:
    """The task as one stable string: same parameters, same text."""
    return json.dumps(task, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def params_hash(task: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(task).encode("utf-8")).hexdigest()


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
    seed = int.from_bytes(hashlib.sha256(task_uuid.lower().encode()).digest()[:4], "big") >> 1
    return TaskRecord(
        task_uuid=task_uuid,
        task_type=str(task["taskType"]),
        key_fingerprint=key_fingerprint,
        params=json.loads(canonical_json(task)),
        params_hash=params_hash(task),
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


def video_uuid(task_uuid: str, index: int) -> str:
    """The videoUUID of result ``index``: deterministic, distinct per result."""
    return str(uuid.uuid5(VIDEO_NAMESPACE, f"{task_uuid.lower()}/{index}"))


def video_url(base_url: str, record: TaskRecord, index: int) -> str:
    """Shaped like the real ``…/video/os/<6 hex>/ws/2/vi/<videoUUID>.mp4``."""
    video = video_uuid(record.task_uuid, index)
    shard = hashlib.sha256(video.encode()).hexdigest()[:6]
    extension = str(record.params.get("outputFormat", DEFAULT_FORMAT)).lower()
    return f"{base_url.rstrip('/')}/video/os/{shard}/ws/2/vi/{video}.{extension}"


def progress(record: TaskRecord, now: float) -> int:
    """0-99 while processing (rising with time), 100 once the latency has passed."""
    if now >= record.completes_at:
        return 100
    elapsed = max(0.0, now - record.submitted_at)
    return min(99, int(100 * elapsed / record.latency))


def poll(record: TaskRecord, *, now: float, base_url: str) -> tuple[list[Item], list[ErrorItem]]:
    """The cumulative state at ``now``: (data items, errors items)."""
    if now < record.completes_at:
        percent = progress(record, now)
        item = {
            "taskType": record.task_type,
            "taskUUID": record.task_uuid,
            "status": "processing",
            "progress": percent,
        }
        return [dict(item) for _ in range(record.number_results)], []
    if record.failure_code is not None:
        # One failure for the whole task: its results are indistinguishable
        # without a videoUUID, and the SDKs stop at the first error anyway.
        failure = Fault.task_failure(record.failure_code, message=record.failure_message)
        return [], [failure.task_error(record.task_uuid, record.task_type)]
    include_cost = record.params.get("includeCost") is True
    results = []
    for index in range(record.number_results):
        result: Item = {
            "taskType": record.task_type,
            "taskUUID": record.task_uuid,
            "status": "success",
            "videoUUID": video_uuid(record.task_uuid, index),
            "videoURL": video_url(base_url, record, index),
        }
        if include_cost:
            result["cost"] = result_cost(record.params)
        results.append(result)
    return results, []
