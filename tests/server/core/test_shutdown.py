"""Closing a service while its background threads still use the store."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ltxmock.server import StoreError
from ltxmock.server.store import SqliteStore

# Services opened and closed in a row while their webhook senders are mid-query:
# closing SQLite connections under a running statement used to segfault.
CLOSE_UNDER_LOAD = """
import http.server, threading, uuid
from ltxmock.server import ApiRequest, MockConfig, create_service

class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        pass

receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=receiver.serve_forever, daemon=True).start()
hook = f"http://127.0.0.1:{receiver.server_port}/hook"
for _ in range(15):
    service = create_service(
        MockConfig(latency=0, render_mode="lazy", delivery_poll_interval=0.001)
    )
    for _ in range(3):
        task = {"taskType": "videoInference", "taskUUID": str(uuid.uuid4()),
                "model": "lightricks:2@1", "positivePrompt": "a red fox",
                "width": 1920, "height": 1080, "webhookURL": hook}
        service.handle(ApiRequest([task], api_key="k", transport="rest", base_url="http://x"))
        poll = [{"taskType": "getResponse", "taskUUID": task["taskUUID"]}]
        service.handle(ApiRequest(poll, api_key="k", transport="rest", base_url="http://x"))
    service.close()
print("closed cleanly")
"""


def test_closing_while_deliveries_run_neither_crashes_nor_logs_tracebacks() -> None:
    run = subprocess.run(
        [sys.executable, "-c", CLOSE_UNDER_LOAD], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, f"exit {run.returncode} (-11 is a segfault)\n{run.stderr}"
    assert "closed cleanly" in run.stdout
    assert "Traceback" not in run.stderr


def test_a_closed_store_refuses_work_with_a_clear_error() -> None:
    store = SqliteStore()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.tasks.get("f47ac10b-58cc-4372-a567-0e02b2c3d493", now=0.0)
