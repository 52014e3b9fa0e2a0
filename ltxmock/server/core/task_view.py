"""What the dashboard shows of a task: its state now, cost, videos and deliveries.

Read-only and key-blind (the admin API sees every key's tasks). The state is
the one a ``getResponse`` poll at the same moment answers (``lifecycle.poll``),
summed up: one status, the lowest progress of its results, the cost of those
finished. Asked for by UUID, a bounded number at a time (``MAX_TASKS``): the page
knows which tasks it shows from the journal, so no listing of the store is
needed and a busy store costs a poll nothing more.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import lifecycle
from .cost import result_cost
from .records import TaskRecord
from .service import MockService

MAX_TASKS = 50  # task UUIDs per question: bounds the work of one dashboard poll
SHOWN_PARAMS = ("model", "positivePrompt", "width", "height", "duration", "fps", "outputFormat")


def task_views(service: MockService, task_uuids: Sequence[str], *, base_url: str) -> dict[str, Any]:
    """``{"tasks": [view, ...], "missing": [uuid, ...]}`` for at most ``MAX_TASKS`` UUIDs,
    in the order asked; an unknown or expired one is listed as missing."""
    if len(task_uuids) > MAX_TASKS:
        raise ValueError(f"at most {MAX_TASKS} task UUIDs at a time (got {len(task_uuids)})")
    now = service.now()
    live = service.store.tasks.live(task_uuids, now=now) if task_uuids else {}
    url = service.config.public_base_url or base_url
    views: list[dict[str, Any]] = []
    missing: list[str] = []
    for task_uuid in task_uuids:
        record = live.get(task_uuid.lower())
        if record is None:
            missing.append(task_uuid)
        else:
            views.append(_view(service, record, now=now, base_url=url))
    return {"tasks": views, "missing": missing}


def _view(service: MockService, record: TaskRecord, *, now: float, base_url: str) -> dict[str, Any]:
    states = None
    if (
        service.config.render_mode == "eager"
        and now >= record.completes_at
        and record.failure_code is None
    ):
        states = service.results.states(record)  # as a poll does: kicks a stalled render
    data, errors = lifecycle.poll(record, now=now, base_url=base_url, results=states)
    done = [item for item in data if item.get("status") == "success"]
    if errors:
        status = "error"
    elif len(done) == len(data):
        status = "success"
    else:
        status = "processing"
    progress = min((int(item.get("progress", 100)) for item in data), default=100)
    params = record.params
    callbacks = isinstance(params.get("webhookURL"), str) or isinstance(
        params.get("uploadEndpoint"), str
    )
    return {
        "taskUUID": record.task_uuid,
        "taskType": record.task_type,
        "status": status,
        "progress": 100 if status != "processing" else progress,
        # What its finished results cost (a failed or unfinished one costs nothing yet).
        "cost": round(result_cost(params) * len(done), 4),
        "includeCost": params.get("includeCost") is True,
        "numberResults": record.number_results,
        "submittedAt": record.submitted_at,
        "completesAt": record.completes_at,
        "params": {name: params[name] for name in SHOWN_PARAMS if name in params},
        "videos": [{"videoUUID": item["videoUUID"], "videoURL": item["videoURL"]} for item in done],
        "errors": errors,
        "deliveries": service.deliveries.to_json(record.task_uuid) if callbacks else [],
    }
