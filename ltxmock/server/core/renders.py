"""Render orchestration: each result's real video file, made in the background.

``Renders`` turns an accepted task into one ``RenderSpec`` per result (missing
parameters take the ``default`` keywords of the model's document) and renders
it in an executor, never on a request thread. Where each file lives (its
``MediaRow``) is derived from the task, so a submit stores nothing for its
results; a row is stored once its file is rendered (so expiry deletes it) or
its render failed (so every process reports the error). A videoUUID names its
task (``lifecycle.task_uuids_of_video``): a download finds its row without an index.

Who renders: the process that accepted the task kicks the renders at submit
time. Any process that later finds a due result without its file (a poll, a
download, the delivery dispatcher) kicks it again unless it already has it in
flight: if the first process died, this restarts the work; if it is still
rendering, ``RenderCache``'s per-key flock makes the second render wait and
then find the file, so nothing is encoded twice.

How much: a per-process backlog (``render_backlog.py``) bounds the renders
not asked for by a waiting download, and a disk budget (``media_budget.py``)
bounds the finished files; see ``Renders``.

PyAV, numpy and Pillow are imported on the first submit (``load``, before its
write transaction: the import takes a good part of a second) or render, so
``ltxmock serve`` starts quickly.
"""

from __future__ import annotations

import concurrent.futures as futures
import contextlib
import dataclasses
import logging
import multiprocessing
import os
import shutil
import signal
import stat
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures.process import BrokenProcessPool  # not loaded by the package
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from . import lifecycle, media_budget
from .config import MockConfig
from .deferrals import Deferrals
from .lifecycle import DEFAULT_FORMAT, DEFERRED, READY, ResultState, video_uuid
from .media_budget import MediaBudget
from .ports import Store
from .records import MediaRow, TaskRecord
from .render_backlog import RenderBacklog, weight

if TYPE_CHECKING:
    from ltxmock.media import RenderCache, RenderSpec
    from ltxmock.validators import RequestValidator

log = logging.getLogger("ltxmock.server")

PENDING = ResultState(ready=False)
DERIVED_ROWS_CACHED = 4096  # tasks whose result rows are kept (one sha256 per result)
STALE_STAGING = 3600.0  # seconds: a staged render older than this was left by a crash
OPEN_ATTEMPTS = 3  # a file evicted between its render and its open is rendered again


@dataclass(frozen=True)
class Defaults:
    """What a task that leaves a parameter out gets, read from the model document."""

    width: int = 1920
    height: int = 1080
    fps: int = 25
    duration: float = 6
    output_format: str = DEFAULT_FORMAT
    quality: int = 95
    generate_audio: bool = False

    @classmethod
    def from_schema(cls, schema: Mapping[str, Any]) -> Defaults:
        """The ``default`` keywords of a task schema (its first listed size for width/height)."""
        fallback = cls()

        def default(*path: str) -> Any:
            node: Any = schema
            for step in path:
                props = node.get("properties") if isinstance(node, Mapping) else None
                node = props.get(step) if isinstance(props, Mapping) else None
            return node.get("default") if isinstance(node, Mapping) else None

        width, height = _first_size(schema) or (fallback.width, fallback.height)
        audio = default("providerSettings", "lightricks", "generateAudio")
        return cls(
            width=width,
            height=height,
            fps=int(default("fps") or fallback.fps),
            duration=float(default("duration") or fallback.duration),
            output_format=str(default("outputFormat") or fallback.output_format),
            quality=int(default("outputQuality") or fallback.quality),
            generate_audio=bool(audio) if audio is not None else fallback.generate_audio,
        )


def _first_size(schema: Mapping[str, Any]) -> tuple[int, int] | None:
    """Width and height have no default; the first allowed pair stands in (1920x1080)."""
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop(0)
        if isinstance(node, Mapping):
            props = node.get("properties", {})
            width, height = (props.get(k, {}) for k in ("width", "height"))
            if isinstance(width, Mapping) and "const" in width and "const" in height:
                return int(width["const"]), int(height["const"])
            stack.extend(node.get(k) for k in ("allOf", "oneOf", "anyOf") if k in node)
        elif isinstance(node, list):
            stack.extend(node)
    return None


def first_frame(params: Mapping[str, Any]) -> bytes | None:
    """The decoded image of ``inputs.frameImages[0]`` if it is inline (data URI or base64).

    UUIDs and URLs name images the mock cannot fetch: the card stands in for them.
    """
    from ltxmock.media import decode_image_input

    inputs = params.get("inputs")
    frames = inputs.get("frameImages") if isinstance(inputs, Mapping) else None
    if not isinstance(frames, list) or not frames:
        return None
    image = frames[0].get("image") if isinstance(frames[0], Mapping) else frames[0]
    return decode_image_input(image) if isinstance(image, str) else None


def render_spec(record: TaskRecord, index: int, defaults: Defaults) -> RenderSpec:
    """What result ``index`` of ``record`` must look like, exactly as requested."""
    from ltxmock.media import RenderSpec

    params = record.params
    provider = params.get("providerSettings", {}).get("lightricks", {})
    audio = provider.get("generateAudio", defaults.generate_audio)
    return RenderSpec(
        width=int(params.get("width", defaults.width)),
        height=int(params.get("height", defaults.height)),
        fps=int(params.get("fps", defaults.fps)),
        duration=float(params.get("duration", defaults.duration)),
        output_format=str(params.get("outputFormat", defaults.output_format)),
        generate_audio=audio is True,
        prompt=str(params.get("positivePrompt", "")),
        task_uuid=record.task_uuid,
        video_uuid=video_uuid(record.task_uuid, index),
        quality=int(params.get("outputQuality", defaults.quality)),
        first_frame=first_frame(params),
        model=str(params.get("model", "")),
    )


# -- the executor side (module level: a process pool pickles these) ----------------
Renderer = Callable[["RenderSpec", Path], Path]
_caches: dict[tuple[str, int, Renderer | None], RenderCache] = {}


def _render(root: str, spec: RenderSpec, budget: int, renderer: Renderer | None = None) -> str:
    """Render ``spec`` into the cache at ``root`` within ``budget`` bytes; returns the
    file name. ``renderer`` (tests) stands in for ``render_video``."""
    from ltxmock.media import RenderCache

    key = (root, budget, renderer)
    cache = _caches.get(key)
    if cache is None:
        media = MediaBudget(Path(root), budget)
        media.purge_staging(STALE_STAGING)  # as RenderCache purges its partial files
        cache = _caches[key] = RenderCache(Path(root), renderer=_Placer(media, renderer))
    _drop_planted(cache.path_for(spec))
    return cache.get_or_render(spec).name


@dataclass(frozen=True)
class _Placer:
    """RenderCache's renderer: render into the staging folder, then let the budget
    make room and move the file in (under RenderCache's per-key lock)."""

    budget: MediaBudget
    renderer: Renderer | None

    def __call__(self, spec: RenderSpec, dest: Path) -> Path:
        from ltxmock.media import render_video

        made = (self.renderer or render_video)(spec, self.budget.staging_path(dest.name))
        self.budget.place(made, dest)
        return dest


# -- result files: never through a link ---------------------------------------------
@dataclass(frozen=True)
class MediaFile:
    """A result file opened for reading (``Renders.open_file``): what is sent."""

    file: BinaryIO
    size: int
    mtime: float


def _genuine(status: os.stat_result) -> bool:
    """A file a render made: regular, with no other name. A link placed in the media
    folder, symbolic (never followed anyway) or hard, is not one."""
    return stat.S_ISREG(status.st_mode) and status.st_nlink == 1


def _is_genuine(path: Path) -> bool:
    try:
        return _genuine(os.lstat(path))
    except OSError:
        return False


def _drop_planted(path: Path) -> None:
    """Remove whatever is at a cache name but is not a rendered file (a link: the link
    goes, not its target), so that the render puts the real one there."""
    with contextlib.suppress(OSError):
        if not _genuine(os.lstat(path)):
            path.unlink()


def _child_init(parent: int, niceness: int = 0) -> None:
    """Set up a render process: quiet on Ctrl-C, gone when its server process is,
    ``niceness`` steps below its server's priority."""
    # Ctrl-C reaches the whole process group: the server stops the pool itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A pool worker whose parent vanished (SIGKILL, os._exit) dies on EOF with a
    # traceback; the server's log must stay clean, and errors travel back anyway.
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process

    if niceness:
        with contextlib.suppress(OSError):
            os.nice(niceness)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="ltxmock-render-watchdog", daemon=True).start()


class Renders:
    """The result files of every task: where they are, and rendering them.

    ``service.results``; thread-safe. ``on_ready`` callbacks (the delivery
    dispatcher's wake-up) run when a render finishes, in any thread.

    Bounded (``RenderBacklog``): renders not asked for by a waiting download
    are refused beyond ``config.render_backlog``. An eager result refused so
    is *deferred*: a row is stored for it as if rendered, so every process
    reports it done at its latency, and its file is rendered when a download
    or an upload needs it. A file evicted under the media budget is in the
    same state. ``renderer`` (tests, thread executor only) replaces the encoder.
    """

    def __init__(
        self,
        config: MockConfig,
        store: Store,
        validator: Callable[[], RequestValidator],
    ) -> None:
        self.config = config
        self._store = store
        self._validator = validator
        self._root: Path | None = config.media_dir
        self._temporary = config.media_dir is None
        self._executor: futures.Executor | None = None
        self._inflight: dict[str, futures.Future[str]] = {}
        self._lock = threading.Lock()
        self._defaults: dict[str, Defaults] = {}
        self._derived: OrderedDict[tuple[str, str, float], list[MediaRow]] = OrderedDict()
        self._closed = False
        self._backlog = RenderBacklog(config.render_backlog)
        self._weights: dict[str, int] = {}
        self._deferrals = Deferrals(store)
        self.renderer: Renderer | None = None
        self.on_ready: list[Callable[[], None]] = []

    # -- where files are -------------------------------------------------------
    @property
    def root(self) -> Path:
        """The media directory (``<data_dir>/media``, or a temporary one made on first use)."""
        with self._lock:
            if self._root is None:
                self._root = Path(tempfile.mkdtemp(prefix="ltxmock-media-"))
            self._root.mkdir(parents=True, exist_ok=True)
            return self._root

    def path(self, row: MediaRow) -> Path:
        # file_name comes from RenderCache (64 hex + a known extension), never from a URL.
        return self.root / row.file_name

    def open_file(self, row: MediaRow) -> MediaFile | None:
        """``row``'s file opened for reading, or None if it is not there.

        Only a file right in the media folder, opened without following a link
        (``O_NOFOLLOW``) and checked on the open descriptor: a link or a FIFO
        placed under a cache name is neither served nor uploaded.
        """
        path = self.root / Path(row.file_name).name
        try:
            # O_NONBLOCK: opening a FIFO must not wait for a writer (a regular file ignores it).
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:  # missing, or a symbolic link (ELOOP)
            return None
        try:
            status = os.fstat(fd)
            # Held (a shared lock) until closed: the budget never evicts a file being sent.
            if _genuine(status) and media_budget.hold(fd):
                return MediaFile(os.fdopen(fd, "rb"), status.st_size, status.st_mtime)
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
        return None

    def defaults(self, model: str) -> Defaults:
        found = self._defaults.get(model)
        if found is None:
            document = self._validator().document(model)
            found = Defaults.from_schema(document.item_schema) if document else Defaults()
            self._defaults[model] = found
        return found

    def load(self) -> None:
        """Import the renderer now, not inside the caller's next store transaction."""
        import ltxmock.media  # noqa: F401  (a dict lookup once imported)

    def spec(self, record: TaskRecord, index: int) -> RenderSpec:
        return render_spec(record, index, self.defaults(str(record.params.get("model", ""))))

    def media_rows(self, record: TaskRecord) -> list[MediaRow]:
        """The row each result of ``record`` has before anything is stored for it."""
        if record.failure_code is not None:
            return []  # it fails at its latency: there is nothing to render
        key = (record.task_uuid.lower(), record.params_hash, record.expires_at)
        with self._lock:
            cached = self._derived.get(key)
            if cached is not None:
                self._derived.move_to_end(key)
                return cached
        from ltxmock.media import EXTENSIONS

        rows = []
        for index in range(record.number_results):
            spec = self.spec(record, index)
            rows.append(
                MediaRow(
                    video_uuid=spec.video_uuid,
                    task_uuid=record.task_uuid,
                    result_index=index,
                    file_name=f"{spec.cache_key()}.{EXTENSIONS[spec.output_format]}",
                    content_type=spec.content_type,
                    expires_at=record.expires_at,
                )
            )
        with self._lock:  # a sha256 per result: polls of a task ask again and again
            self._derived[key] = rows
            if len(self._derived) > DERIVED_ROWS_CACHED:
                self._derived.popitem(last=False)
        return rows

    def rows(self, record: TaskRecord) -> list[MediaRow]:
        """Each result's row: the stored one once rendered, deferred or failed, else derived."""
        return [row for row, _ in self._rows(record)]

    def _rows(self, record: TaskRecord) -> list[tuple[MediaRow, bool]]:
        """Each result's row, and whether it is stored (the result is reported done)."""
        derived = self.media_rows(record)
        if not derived:
            return []
        stored = {
            row.result_index: row
            for row in self._store.media.for_task(record.task_uuid)
            if row.expires_at == record.expires_at  # not an expired namesake's
        }
        for row in derived:  # deferred here, on their way to the store
            queued = self._deferrals.get(row.video_uuid)
            if queued is not None and queued.expires_at == row.expires_at:
                stored.setdefault(row.result_index, queued)
        return [
            (stored[row.result_index], True) if row.result_index in stored else (row, False)
            for row in derived
        ]

    def row_of_video(self, video_uuid: str) -> MediaRow | None:
        """The row of a videoUUID, expired or not: its task's (the newest task of
        that UUID, expired ones too), else a stored row whose task is gone or was
        accepted by an older ltxmock (another videoUUID scheme)."""
        candidates = lifecycle.task_uuids_of_video(video_uuid)
        records = self._store.tasks.find(list(candidates))
        for record in sorted(records, key=lambda r: r.expires_at, reverse=True):
            index = candidates.get(record.task_uuid.lower())
            rows = self.rows(record)
            if index is not None and index < len(rows) and rows[index].video_uuid == video_uuid:
                return rows[index]
        return self._store.media.get(video_uuid)

    def file_in_use(self, row: MediaRow, *, now: float) -> bool:
        """Whether a live task's result still uses ``row``'s file."""
        if self._store.media.file_in_use(row.file_name, now=now):
            return True
        record = self._store.tasks.get(row.task_uuid, now=now)
        return record is not None and any(
            mine.file_name == row.file_name for mine in self.media_rows(record)
        )

    # -- states ----------------------------------------------------------------
    def states(self, record: TaskRecord, *, kick: bool = True) -> list[ResultState]:
        """Each result's state; a missing file nobody renders here is kicked (eager
        mode: deferred if the backlog is full)."""
        return [self._state(record, row, stored, kick=kick) for row, stored in self._rows(record)]

    def state(self, record: TaskRecord, index: int) -> ResultState:
        return self.states(record)[index]

    def announced(self, record: TaskRecord, index: int) -> ResultState:
        """What a poll says of a result once its task's latency is over: in eager
        mode its state (done once rendered or deferred); in lazy mode done, its
        file made on the first download (so a webhook waits for no render)."""
        if self.config.render_mode == "eager":
            return self.state(record, index)
        return DEFERRED

    def _state(self, record: TaskRecord, row: MediaRow, stored: bool, *, kick: bool) -> ResultState:
        if row.error is not None:
            return ResultState(ready=False, error=row.error)
        if _is_genuine(self.path(row)):
            return READY
        if stored:
            return DEFERRED  # reported done: rendered (again) on demand
        if kick and self.kick(record, row) is None and self._refused():
            self._defer([row])
            return DEFERRED
        return PENDING

    def _refused(self) -> bool:
        """Whether a kick that returned nothing was refused by the backlog (eager
        mode: the result is then deferred), not stopped by a closing service."""
        return self.config.render_mode == "eager" and not self._closed

    # -- rendering -------------------------------------------------------------
    @property
    def backlog(self) -> RenderBacklog:
        """This process's renders in flight (``load``, ``peak``) and their bound."""
        return self._backlog

    def start(self, *records: TaskRecord) -> None:
        """Kick every render of newly accepted tasks (eager mode); results the
        backlog has no room for are deferred."""
        refused = [
            row
            for record in records
            for row in self.media_rows(record)
            if self.kick(record, row) is None
        ]
        if refused and not self._closed:
            self._defer(refused)

    def kick(
        self, record: TaskRecord, row: MediaRow, *, demand: bool = False
    ) -> futures.Future[str] | None:
        """Render ``row``'s file in the background unless this process already is.

        None if the service is closing or, unless ``demand`` (a client waits
        for the file), the backlog has no room for it.
        """
        with self._lock:
            if self._closed:
                return None
            running = self._inflight.get(row.file_name)
            if running is not None:
                return running
        try:
            spec = self.spec(record, row.result_index)
        except Exception as exc:  # an undecodable input: the result fails, the server does not
            self._failed(row, f"{type(exc).__name__}: {exc}")
            return None
        cost = weight(spec)
        root = str(self.root)
        with self._lock:
            if self._closed:
                return None
            running = self._inflight.get(row.file_name)
            if running is not None:
                return running
            if not self._backlog.admit(cost, demand=demand):
                return None
            try:
                future = self._pool().submit(
                    _render, root, spec, self.config.media_budget, self.renderer
                )
            except RuntimeError:  # shut down meanwhile
                self._backlog.release(cost)
                return None
            self._inflight[row.file_name] = future
            self._weights[row.file_name] = cost
        future.add_done_callback(lambda done: self._done(row, done))
        return future

    def _defer(self, rows: list[MediaRow]) -> None:
        """Report these results done without their files (stored, so every process
        agrees; written by ``Deferrals``' thread, not on the request path)."""
        self._deferrals.add(rows)

    def _stored(self, row: MediaRow) -> MediaRow | None:
        """The stored row of ``row``'s result (this task's, not an expired namesake's)."""
        found = self._store.media.get(row.video_uuid) or self._deferrals.get(row.video_uuid)
        return found if found is not None and found.expires_at == row.expires_at else None

    def fetch(self, record: TaskRecord, row: MediaRow) -> ResultState:
        """A result whose file must exist (an upload): READY or its error once it
        does; until then PENDING, its render kicked within the backlog (a
        refused one is kicked again at the caller's next look)."""
        stored = self._stored(row)
        state = self._state(record, stored or row, stored is not None, kick=False)
        if state.ready or state.error is not None:
            return state
        if stored is not None or self.config.render_mode == "lazy":
            self.kick(record, stored or row)
        else:
            self._state(record, row, False, kick=True)  # eager: kicked, or deferred
        return PENDING

    def open_result(
        self, record: TaskRecord, row: MediaRow, timeout: float | None = None
    ) -> tuple[ResultState, MediaFile | None]:
        """A download: the file opened, rendered first (and waited for) if the result
        is reported done without it (lazy mode, deferred or evicted); else the
        state saying why there is none. That render is on demand, outside the
        backlog's bound: its client is waiting, and the download threads bound it."""
        state = PENDING
        for _ in range(OPEN_ATTEMPTS):
            stored = self._stored(row)
            row = stored or row
            state = self._state(record, row, stored is not None, kick=False)
            if state.error is not None:
                return state, None
            if not state.ready:
                if self.config.render_mode == "eager" and stored is None:
                    return state, None  # being rendered eagerly: not reported yet
                future = self.kick(record, row, demand=True)
                if future is None or future.cancelled():
                    return PENDING, None  # closing
                try:
                    future.result(timeout)
                except BrokenProcessPool:
                    continue  # the render process died: a new pool renders it
                except TimeoutError:
                    return PENDING, None
                except Exception as exc:
                    return ResultState(ready=False, error=str(exc) or type(exc).__name__), None
            media = self.open_file(row)
            if media is not None:
                return READY, media
            state = PENDING  # evicted between its render and the open: render it again
        return state, None

    def start_processes(self) -> None:
        """Start the render processes now (``serve`` does, Ctrl-C ignored, so that they
        inherit that and none is interrupted or left half-started by a stop)."""
        if self.config.render_executor != "process":
            return
        with self._lock:
            if self._closed:
                return
            pool = self._pool()
            for _ in range(self.config.render_workers):
                pool.submit(os.getpid)  # each submit starts a process while none is idle

    def _pool(self) -> futures.Executor:
        if self._executor is None:
            if self.config.render_executor == "thread":
                self._executor = futures.ThreadPoolExecutor(
                    self.config.render_workers, thread_name_prefix="ltxmock-render"
                )
            else:
                # spawn, not fork: this process has threads and SQLite connections.
                self._executor = futures.ProcessPoolExecutor(
                    self.config.render_workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_child_init,
                    initargs=(os.getpid(), self.config.render_niceness),
                )
        return self._executor

    def _done(self, row: MediaRow, future: futures.Future[str]) -> None:
        with self._lock:
            if self._inflight.get(row.file_name) is future:
                del self._inflight[row.file_name]
                self._backlog.release(self._weights.pop(row.file_name, 0))
            closed = self._closed
        if future.cancelled() or closed:
            return
        error = future.exception()
        if isinstance(error, BrokenProcessPool):
            # The render process died (killed, out of memory): a new pool
            # retries at the next poll instead of failing the result.
            with self._lock:
                broken, self._executor = self._executor, None
            if broken is not None:
                broken.shutdown(wait=False, cancel_futures=True)
            log.warning("the render process died; renders restart on the next poll")
        elif error is not None:
            self._failed(row, str(error) or type(error).__name__)
        else:
            self._rendered(row)
        for callback in list(self.on_ready):
            callback()

    def _rendered(self, row: MediaRow) -> None:
        # Stored now, so the file is deleted when the task expires.
        try:
            self._store.media.put([row])
        except Exception:
            log.exception("could not record a rendered video")

    def _failed(self, row: MediaRow, message: str) -> None:
        log.warning("rendering video %s failed: %s", row.video_uuid, message)
        try:
            self._store.media.put([dataclasses.replace(row, error=message)])
        except Exception:
            log.exception("could not record a failed render")

    # -- expiry ------------------------------------------------------------------
    def delete_files(self, names: list[str]) -> None:
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                (self.root / Path(name).name).unlink()

    def clear(self) -> None:
        """Delete every rendered file (after a reset)."""
        self._deferrals.clear()
        if self._root is None or not self._root.is_dir():
            return
        for entry in self._root.iterdir():
            # A link goes too (unlink removes the link, not its target).
            if (entry.is_symlink() or entry.is_file()) and not entry.name.startswith("."):
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
        MediaBudget(self._root, self.config.media_budget).purge_staging(STALE_STAGING)

    def close(self) -> None:
        """Stop rendering (a render in progress is abandoned); delete a temporary directory."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
            self._inflight.clear()
            self._weights.clear()
            self._backlog.load = 0
        self._deferrals.close()  # before the store closes: deferred results stay done
        if executor is not None:
            # A process pool's running render would hold close() for seconds:
            # its processes are ended instead (their partial files are temp files).
            processes = getattr(executor, "_processes", None) or {}
            executor.shutdown(wait=False, cancel_futures=True)
            for process in list(processes.values()):
                process.terminate()
        if self._temporary and self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
