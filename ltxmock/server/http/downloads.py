"""``GET``/``HEAD /video/os/<6 hex>/ws/2/vi/<videoUUID>.<ext>``: the result files.

The route takes a UUID and a known extension only; the file is found through
its ``MediaRow`` (a RenderCache name, stored or derived from the task the
videoUUID names), so nothing from the URL ever becomes part of a path, and
it is opened without following links (``Renders.open_file``). The answer is
what Werkzeug's ``send_file`` gives for a path: Content-Type, Content-Length,
``Range`` (206, ``Content-Range``, ``Accept-Ranges: bytes``),
``ETag``/``If-None-Match`` (304) and ``If-Modified-Since``.

A result reported done without its file (lazy mode, a render deferred by
the backlog, a file evicted by the media budget) is rendered first and the
download waits for it (``Renders.open_result``); downloads have a thread pool
of their own in the ASGI app, so that wait never holds up the admin API.

Answers: 404 (Runware-shaped JSON) for an unknown video, one of another
extension, or one not finished yet; 410 once the task's ttl has passed (the
file is deleted then). Downloads are not journaled: the journal is the API
conversation a client's tests assert on, and a player's Range requests would
crowd it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask import Blueprint, Response, request
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.wsgi import wrap_file

from ltxmock.server.core import lifecycle
from ltxmock.server.core.errors import error_item
from ltxmock.server.core.renders import MediaFile

from .responses import current_service, json_response

MEDIA_DOCS = "https://runware.ai/docs/en/video-inference/api-reference#response"
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_NAME = re.compile(rf"(?P<uuid>{_UUID})\.(?P<ext>mp4|webm|mov)")
_SHARD = re.compile(r"[0-9a-f]{6}")

downloads = Blueprint("ltxmock_downloads", __name__)


@downloads.get("/video/os/<shard>/ws/2/vi/<name>")
def video(shard: str, name: str) -> Response:
    found = _NAME.fullmatch(name)
    if found is None or not _SHARD.fullmatch(shard):
        return _not_found()
    video_uuid, extension = found["uuid"].lower(), found["ext"]
    if lifecycle.url_shard(video_uuid) != shard:
        return _not_found()
    service = current_service()
    now = service.now()
    row = service.results.row_of_video(video_uuid)
    if row is None or not row.file_name.endswith(f".{extension}"):
        return _not_found()
    if now >= row.expires_at:
        if not service.results.file_in_use(row, now=now):
            service.results.delete_files([row.file_name])
        return json_response(
            410,
            {
                "errors": [
                    error_item(
                        "mediaExpired",
                        f"Video {video_uuid} was deleted when its time-to-live (ttl) ran out.",
                        documentation=MEDIA_DOCS,
                        task_uuid=row.task_uuid,
                    )
                ]
            },
        )
    record = service.store.tasks.get(row.task_uuid, now=now)
    if record is None or now < record.completes_at:
        return _not_found("is not finished yet")
    # Renders the file first when the result is reported done without it (lazy
    # mode, a render deferred by the backlog, a file evicted by the media budget).
    state, media = service.results.open_result(record, row)
    if media is None:
        if state.error is not None:
            return _not_found("failed")
        return _not_found("is still being rendered" if not state.ready else "does not exist")
    # Saved as <videoUUID>.<ext>, like the URL, not as the cache file's name.
    response = _send(media, row.content_type, f"{video_uuid}.{extension}", row.file_name)
    response.headers["Accept-Ranges"] = "bytes"
    return response


def _send(media: MediaFile, mimetype: str, download_name: str, file_name: str) -> Response:
    """``send_file``'s answer for an open file (it only knows the size and the
    times of a path): Content-Length, Last-Modified, ETag, then Range and the
    conditional headers."""
    response = Response(
        wrap_file(request.environ, media.file), mimetype=mimetype, direct_passthrough=True
    )
    response.content_length = media.size
    response.last_modified = datetime.fromtimestamp(media.mtime, UTC)
    response.cache_control.no_cache = True
    response.headers.set("Content-Disposition", "inline", filename=download_name)
    # The cache name is the render's hash: with the size and time, it names these bytes.
    response.set_etag(f"{file_name.partition('.')[0][:16]}-{media.size}-{media.mtime}")
    try:  # answers 206 or 304 in place
        response.make_conditional(request.environ, accept_ranges=True, complete_length=media.size)
    except RequestedRangeNotSatisfiable:
        media.file.close()
        raise
    return response


def _not_found(why: str = "does not exist") -> Response:
    return json_response(
        404,
        {
            "errors": [
                error_item(
                    "notFound",
                    f"This video {why}.",
                    documentation=MEDIA_DOCS,
                )
            ]
        },
    )
