"""``/__ltxmock/``: control the mock from tests and curl.

Guarded by ``admin_guard`` (before routing): a request that changes something
sends ``Content-Type: application/json`` (even without a body) and no foreign
``Origin``; without ``--admin-token`` the ``Host`` must be this machine, with it
every route but health needs the token.

GET    /__ltxmock/health          liveness, version, store, task count
GET    /__ltxmock/faults          the fault rules
POST   /__ltxmock/faults          add one: {"status": 429, "times": 3}
                                  or {"task": "timeoutProvider"}
DELETE /__ltxmock/faults[/<id>]   remove one, or all
GET    /__ltxmock/requests        the journal (?since=<id>&limit=<n>), oldest first
DELETE /__ltxmock/requests        clear the journal
GET    /__ltxmock/deliveries      webhooks and uploads, each with its attempts
                                  (?task=<taskUUID>&kind=webhook|upload&state=captured)
GET    /__ltxmock/tasks?uuid=<u>  these tasks' state, cost, videos and deliveries
                                  (repeat uuid, at most 50; read-only, for the dashboard)
POST   /__ltxmock/lint            {"text": "<a request body>"}: its problems, with line and
                                  column (read-only, for the dashboard's playground)
GET    /__ltxmock/deliveries/<id>/body   what a captured delivery would have sent
GET    /__ltxmock/scripts         scripted poll outcomes per taskUUID
POST   /__ltxmock/scripts         {"taskUUID": T, "outcomes": ["processing", "timeoutProvider"]}
DELETE /__ltxmock/scripts[/<taskUUID>]   remove one, or all
GET    /__ltxmock/credits         the default balance and every account (by fingerprint);
                                  ?limit=<n>: the first n, and "more": true|false
PUT    /__ltxmock/credits         {"balance": 5} (the default) or {"apiKey": K, "balance": 5};
                                  null: unlimited
POST   /__ltxmock/credits/query   {"apiKey": K}: that key's balance and spending
POST   /__ltxmock/reset           forget tasks, faults, scripts, balances, journal, files
                                  and deliveries
"""

from __future__ import annotations

import os
from typing import Any

from flask import Blueprint, Response, request

from ltxmock import __version__
from ltxmock.lint import lint_source
from ltxmock.server.core import jsontext
from ltxmock.server.core.errors import error_item
from ltxmock.server.core.faults import Fault
from ltxmock.server.core.records import CreditAccount
from ltxmock.server.core.task_view import task_views

from .responses import current_service, json_response

admin = Blueprint("ltxmock_admin", __name__, url_prefix="/__ltxmock")


@admin.get("/health")
def health() -> Response:
    service = current_service()
    return json_response(
        200,
        {
            "status": "ok",
            "service": "ltxmock",
            "version": __version__,
            "pid": os.getpid(),
            "store": service.store.description,
            "tasks": service.store.tasks.count(now=service.now()),
            "latency": service.config.latency,
        },
    )


@admin.get("/faults")
def list_faults() -> Response:
    return json_response(200, {"faults": [f.to_dict() for f in current_service().faults.all()]})


@admin.post("/faults")
def add_fault() -> Response:
    try:
        fault = Fault.from_json(request.get_json(silent=True))
    except ValueError as exc:
        return _bad_request("invalidFault", str(exc))
    return json_response(201, {"fault": current_service().faults.add(fault).to_dict()})


@admin.delete("/faults")
def clear_faults() -> Response:
    current_service().faults.clear()
    return json_response(200, {"faults": []})


@admin.delete("/faults/<int:fault_id>")
def remove_fault(fault_id: int) -> Response:
    if not current_service().faults.remove(fault_id):
        return json_response(
            404, {"errors": [error_item("faultNotFound", f"No fault rule with id {fault_id}.")]}
        )
    return json_response(200, {"removed": fault_id})


@admin.get("/requests")
def list_requests() -> Response:
    since = request.args.get("since", 0, type=int)
    limit = request.args.get("limit", None, type=int)
    if since < 0 or (limit is not None and limit < 0):
        return _bad_request("invalidQuery", "since and limit must be non-negative integers")
    entries = current_service().journal.entries(since=since, limit=limit)
    return json_response(200, {"requests": [entry.to_dict() for entry in entries]})


@admin.delete("/requests")
def clear_requests() -> Response:
    current_service().journal.clear()
    return json_response(200, {"requests": []})


@admin.get("/deliveries")
def list_deliveries() -> Response:
    task = request.args.get("task") or None
    kind = request.args.get("kind") or None
    if kind not in (None, "webhook", "upload"):
        return _bad_request("invalidQuery", "kind is webhook or upload")
    state = request.args.get("state") or None
    deliveries = current_service().deliveries.to_json(task, kind=kind, state=state)
    return json_response(200, {"deliveries": deliveries})


@admin.get("/deliveries/<int:delivery_id>/body")
def captured_body(delivery_id: int) -> Response:
    capture = current_service().deliveries.captured(delivery_id)
    if capture is None or capture.body is None:
        message = f"No captured body for delivery {delivery_id}."
        return json_response(404, {"errors": [error_item("captureNotFound", message)]})
    return Response(capture.body, status=200, mimetype=capture.content_type)


@admin.get("/scripts")
def list_scripts() -> Response:
    return json_response(200, {"scripts": current_service().scripts.all()})


@admin.post("/scripts")
def add_script() -> Response:
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or set(data) != {"taskUUID", "outcomes"}:
        return _bad_request(
            "invalidScript",
            'a script is {"taskUUID": "...", "outcomes": ["processing", "timeoutProvider"]}',
        )
    try:
        current_service().scripts.set(data["taskUUID"], data["outcomes"])
    except ValueError as exc:
        return _bad_request("invalidScript", str(exc))
    return json_response(
        201, {"script": {"taskUUID": data["taskUUID"], "outcomes": data["outcomes"]}}
    )


@admin.delete("/scripts")
def clear_scripts() -> Response:
    current_service().scripts.clear()
    return json_response(200, {"scripts": []})


@admin.delete("/scripts/<task_uuid>")
def remove_script(task_uuid: str) -> Response:
    if not current_service().scripts.remove(task_uuid):
        message = f"No script for taskUUID {task_uuid[:64]}."
        return json_response(404, {"errors": [error_item("scriptNotFound", message)]})
    return json_response(200, {"removed": task_uuid})


@admin.get("/credits")
def list_credits() -> Response:
    limit = request.args.get("limit", None, type=int)
    if "limit" in request.args and (limit is None or limit < 0):
        return _bad_request("invalidQuery", "limit must be a non-negative integer")
    credits = current_service().credits
    if limit is None:
        accounts = [_account(a) for a in credits.accounts()]
        return json_response(200, {"default": credits.default(), "accounts": accounts})
    # One more than shown, to tell whether there are more (the dashboard's bound).
    accounts = [_account(a) for a in credits.accounts(limit + 1)]
    return json_response(
        200,
        {
            "default": credits.default(),
            "accounts": accounts[:limit],
            "more": len(accounts) > limit,
        },
    )


@admin.put("/credits")
def set_credits() -> Response:
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or "balance" not in data or set(data) - {"apiKey", "balance"}:
        return _bad_request(
            "invalidCredits", 'send {"balance": 5} or {"apiKey": "...", "balance": 5} (USD)'
        )
    key, balance = data.get("apiKey"), data["balance"]
    if key is not None and (not isinstance(key, str) or not key):
        return _bad_request("invalidCredits", "apiKey is a non-empty string")
    if balance is not None and (
        not isinstance(balance, int | float) or isinstance(balance, bool) or not balance >= 0
    ):
        return _bad_request("invalidCredits", "balance is a non-negative number, or null")
    credits = current_service().credits
    credits.set_balance(None if balance is None else float(balance), key)
    shown = _account(credits.account(key)) if key is not None else {"default": credits.default()}
    return json_response(200, shown)


@admin.post("/credits/query")
def query_credits() -> Response:
    data = request.get_json(silent=True)
    key = data.get("apiKey") if isinstance(data, dict) else None
    if not isinstance(key, str) or not key:
        return _bad_request("invalidCredits", 'send {"apiKey": "..."}')
    return json_response(200, _account(current_service().credits.account(key)))


def _account(account: CreditAccount) -> dict[str, Any]:
    return {"account": account.owner, "balance": account.balance, "spent": account.spent}


@admin.post("/reset")
def reset() -> Response:
    current_service().reset()
    return json_response(200, {"reset": True})


@admin.get("/tasks")
def show_tasks() -> Response:
    base_url = request.host_url.rstrip("/")
    try:
        views = task_views(current_service(), request.args.getlist("uuid"), base_url=base_url)
    except ValueError as exc:
        return _bad_request("tooManyTasks", str(exc))
    return json_response(200, views)


MAX_LINT_PROBLEMS = 100  # problems one answer lists (the rest are counted)
MAX_LINT_BYTES = 256 * 1024  # a pasted payload, not a load test: bounds one lint's work


@admin.post("/lint")
def lint() -> Response:
    raw = request.stream.read(MAX_LINT_BYTES + 1)  # never more, whatever is declared
    if len(raw) > MAX_LINT_BYTES or (request.content_length or 0) > MAX_LINT_BYTES:
        return json_response(
            413,
            {
                "errors": [
                    error_item("payloadTooLarge", f"lint takes at most {MAX_LINT_BYTES} bytes")
                ]
            },
            {"Connection": "close"},
        )
    try:
        body = jsontext.loads(raw)
    except ValueError:
        body = None
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str):
        return _bad_request("invalidLintRequest", 'send {"text": "<a request body as JSON text>"}')
    service = current_service()
    problems = lint_source("payload", text, validator=service.validator)
    shown = [p.to_dict() for p in problems[:MAX_LINT_PROBLEMS]]
    return json_response(200, {"problems": shown, "more": len(problems) - len(shown)})


def _bad_request(code: str, message: str) -> Response:
    return json_response(400, {"errors": [error_item(code, message)]})
