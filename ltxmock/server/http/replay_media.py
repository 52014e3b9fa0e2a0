"""``GET``/``HEAD /replay/media/<file>``: the videos a cassette recorded (``--record-media``).

Only names the loaded cassettes list are served (``Replay.media_file``): the
URL never becomes part of a path. Werkzeug's ``send_file`` gives Range, ETag
and conditional requests as for the mock's own results.
"""

from __future__ import annotations

from flask import Blueprint, Response, send_file

from ltxmock.server.core.errors import error_item

from .responses import current_service, json_response

replay_media = Blueprint("ltxmock_replay_media", __name__)


@replay_media.route("/replay/media/<name>", methods=["GET", "HEAD"])
def recorded_video(name: str) -> Response:
    replay = current_service().replay
    path = replay.media_file(name) if replay is not None else None
    if path is None or not path.is_file():
        item = error_item("videoNotFound", f"no recorded video named {name[:80]!r}")
        return json_response(404, {"errors": [item]})
    return send_file(path, conditional=True, max_age=0)
