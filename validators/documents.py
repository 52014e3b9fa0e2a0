"""Load Runware OpenAPI documents and find the request schema of each model.

Nothing about a model is written in code: its AIR id, task type and request
schema are read from the documents in the spec directory, so dropping a second
model's document next to the first makes its tasks valid with no code change.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

JSON = Any
SPEC_DIR_ENV = "LTXMOCK_SPEC_DIR"
DOCS_BASE = "https://runware.ai/docs/models"


class SpecError(Exception):
    """A document in the spec directory cannot serve as a model description."""


@dataclass(frozen=True)
class ModelDocument:
    """One model's OpenAPI document and what the validator needs from it."""

    air_id: str
    model_id: str
    title: str
    task_type: str
    document: Mapping[str, JSON] = field(repr=False)
    items_pointer: str  # JSON pointer of the per-task schema inside ``document``
    source: str

    @property
    def item_schema(self) -> Mapping[str, JSON]:
        schema: Mapping[str, JSON] = resolve_pointer(self.document, self.items_pointer)
        return schema

    def validator_schema(self) -> dict[str, JSON]:
        """A standalone JSON Schema for one task: the document plus a ``$ref``.

        Keeping the whole document as the root resource lets local ``$ref``s in
        the item schema resolve exactly as the document wrote them.
        """
        return {**self.document, "$ref": "#" + self.items_pointer}

    def auth_schema(self) -> Mapping[str, JSON] | None:
        schemas = self.document.get("components", {}).get("schemas", {})
        found = schemas.get("AuthenticationTask")
        return found if isinstance(found, Mapping) else None

    def documentation_url(self, parameter: str | None = None) -> str:
        base = f"{DOCS_BASE}/{self.model_id}"
        return f"{base}#{parameter}" if parameter else base

    @property
    def parameters(self) -> list[str]:
        props = self.item_schema.get("properties", {})
        return list(props) if isinstance(props, Mapping) else []


def resolve_pointer(document: Mapping[str, JSON], pointer: str) -> Any:
    node: Any = document
    for raw in pointer.lstrip("/").split("/") if pointer.strip("/") else []:
        part = raw.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _follow_local_refs(document: Mapping[str, JSON], pointer: str) -> str:
    seen: set[str] = set()
    node = resolve_pointer(document, pointer)
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if not ref.startswith("#") or ref in seen:
            raise SpecError(f"cannot follow $ref {ref!r} (only local, acyclic refs are supported)")
        seen.add(ref)
        pointer = ref[1:]
        node = resolve_pointer(document, pointer)
    return pointer


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _request_items_pointer(document: Mapping[str, JSON], source: str) -> str:
    """Find the per-task schema of ``POST /`` (the array body's ``items``)."""
    paths = document.get("paths", {})
    for path, operations in paths.items():
        post = operations.get("post") if isinstance(operations, Mapping) else None
        if not isinstance(post, Mapping):
            continue
        content = post.get("requestBody", {}).get("content", {})
        if "application/json" not in content:
            continue
        pointer = f"/paths/{_escape(path)}/post/requestBody/content/application~1json/schema"
        pointer = _follow_local_refs(document, pointer)
        body = resolve_pointer(document, pointer)
        if body.get("type") != "array" or "items" not in body:
            raise SpecError(f"{source}: request body of POST {path} is not an array of tasks")
        return _follow_local_refs(document, pointer + "/items")
    raise SpecError(f"{source}: no POST operation with an application/json request body")


def _const_of(schema: Any) -> Any:
    if isinstance(schema, Mapping):
        if "const" in schema:
            return schema["const"]
        enum = schema.get("enum")
        if isinstance(enum, list) and len(enum) == 1:
            return enum[0]
    return None


def parse_document(document: Mapping[str, JSON], source: str = "<memory>") -> ModelDocument:
    info = document.get("info", {})
    pointer = _request_items_pointer(document, source)
    item = resolve_pointer(document, pointer)
    props = item.get("properties", {})
    air_id = _const_of(props.get("model")) or info.get("x-air-id")
    task_type = _const_of(props.get("taskType"))
    if not isinstance(air_id, str) or not isinstance(task_type, str):
        raise SpecError(f"{source}: the task schema must fix 'model' and 'taskType' with const")
    return ModelDocument(
        air_id=air_id,
        model_id=str(info.get("x-model-id") or air_id.replace(":", "-").replace("@", "-")),
        title=str(info.get("title", air_id)),
        task_type=task_type,
        document=document,
        items_pointer=pointer,
        source=source,
    )


def default_spec_dir() -> Path:
    override = os.environ.get(SPEC_DIR_ENV)
    if override:
        return Path(override)
    # Installed, this file is ltxmock/validators/documents.py and the documents ship
    # as ltxmock/spec/; in a source checkout validators/ sits beside spec/. Same path.
    return Path(__file__).resolve().parent.parent / "spec"


def iter_document_files(spec_dir: Path) -> Iterator[Path]:
    yield from sorted(p for p in spec_dir.glob("*.json") if p.is_file())


def load_documents(spec_dir: Path | str | None = None) -> tuple[ModelDocument, ...]:
    """Every model document in ``spec_dir`` (default: the packaged ``spec/``)."""
    directory = Path(spec_dir) if spec_dir is not None else default_spec_dir()
    files = list(iter_document_files(directory))
    if not files:
        raise SpecError(
            f"no OpenAPI documents (*.json) in {directory}; "
            f"point {SPEC_DIR_ENV} or --spec-dir at the folder holding them"
        )
    docs = []
    for path in files:
        try:
            raw = path.read_bytes()
            document = json.loads(raw.decode("utf-8"))
        except (OSError, ValueError) as exc:
            raise SpecError(f"{path}: cannot read OpenAPI document: {exc}") from exc
        check_openapi(document, str(path), raw=raw)
        docs.append(parse_document(document, str(path)))
    return _unique(docs)


def check_openapi(document: Any, source: str, *, raw: bytes | None = None) -> None:
    """Raise ``SpecError`` naming ``source`` and the place if ``document`` is not valid OpenAPI.

    openapi-spec-validator does the check (the version the document declares:
    3.0, 3.1, ...). It comes with the server extra; the light install (the
    linter alone) has no OpenAPI checker and reads the document as it is.
    Importing and running the checker costs about half a second, so a passed
    check is remembered by the file's bytes (``raw``) and the checker's version
    in the user's cache directory: ``ltxmock lint`` pays it once per document
    (and again after the checker is upgraded).
    """
    marker = _passed_marker(raw)
    if marker is not None and marker.exists():
        return
    try:
        from openapi_spec_validator import validate
        from openapi_spec_validator.exceptions import OpenAPIError
        from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
        from referencing.exceptions import Unresolvable
    except ImportError:
        return
    if not isinstance(document, Mapping):
        raise SpecError(f"{source}: not an OpenAPI document (the top level is not an object)")
    version = document.get("openapi")
    try:
        validate(document)
    except OpenAPIValidationError as exc:
        place = _place(document, list(exc.relative_path), exc.instance)
        where = f"at {place}: " if place != "$" else "at the top level: "
        message = exc.message.split("\n\n")[0]  # not the instance, which may be the whole file
        raise SpecError(f"{source}: not a valid OpenAPI document: {where}{message}") from exc
    except Unresolvable as exc:
        raise SpecError(f"{source}: not a valid OpenAPI document: {exc}") from exc
    except OpenAPIError as exc:  # no or an unknown "openapi" version
        raise SpecError(
            f"{source}: not a valid OpenAPI document: at $.openapi: {version!r} is not an "
            f"OpenAPI version this checker knows ({exc.__class__.__name__})"
        ) from exc
    if marker is not None:
        _remember(marker)


CHECK_CACHE_ENV = "LTXMOCK_CACHE_DIR"
MAX_REMEMBERED = 256  # passed checks kept; beyond, the folder starts afresh


def _remember(marker: Path) -> None:
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
        others = [p for p in marker.parent.iterdir() if p != marker]
        if len(others) >= MAX_REMEMBERED:
            for path in others:
                path.unlink(missing_ok=True)
    except OSError:  # a read-only home: the check runs again next time
        pass


def _passed_marker(raw: bytes | None) -> Path | None:
    """Where a passed check of these bytes is remembered (None: not remembered)."""
    if raw is None:
        return None
    # The installed checker, told apart by its package file (finding it imports
    # nothing: importlib.metadata alone would cost a fifth of a second per start).
    found = importlib.util.find_spec("openapi_spec_validator")
    if found is None or found.origin is None:
        return None
    try:
        stamp = os.stat(found.origin)
    except OSError:
        return None
    checker = f"{found.origin}:{stamp.st_size}:{stamp.st_mtime_ns}"
    base = os.environ.get(CHECK_CACHE_ENV) or os.environ.get("XDG_CACHE_HOME")
    folder = Path(base) if base else Path.home() / ".cache"
    if not os.environ.get(CHECK_CACHE_ENV):
        folder = folder / "ltxmock"
    digest = hashlib.sha256(checker.encode() + b"\0" + raw).hexdigest()
    return folder / "openapi-checked" / digest


def _place(document: Any, relative: list[Any], instance: Any) -> str:
    """The JSON path of the checker's error in the whole document.

    A schema object is checked on its own, so the error's path starts at that
    schema: the place is found by looking for the node the path leads from
    (the same object first, else an equal value), nearest the top first.
    """
    found: list[list[Any]] = []
    equal: list[list[Any]] = []
    stack: list[tuple[list[Any], Any]] = [([], document)]
    while stack and not found:
        path, node = stack.pop(0)
        target: Any = node
        try:
            for part in relative:
                target = target[part]
        except (KeyError, IndexError, TypeError):
            target = _MISSING
        if target is instance:
            found.append(path)
        elif target is not _MISSING and target == instance and not equal:
            equal.append(path)
        children = (
            node.items()
            if isinstance(node, Mapping)
            else enumerate(node)
            if isinstance(node, list)
            else ()
        )
        stack.extend(([*path, key], child) for key, child in children)
    best = (found or equal or [[]])[0] + relative
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in best)


_MISSING = object()


def _unique(docs: Iterable[ModelDocument]) -> tuple[ModelDocument, ...]:
    by_air: dict[str, ModelDocument] = {}
    for doc in docs:
        if doc.air_id in by_air:
            raise SpecError(
                f"{doc.source} and {by_air[doc.air_id].source} both describe model {doc.air_id}"
            )
        by_air[doc.air_id] = doc
    return tuple(by_air.values())


@cache
def packaged_documents() -> tuple[ModelDocument, ...]:
    return load_documents()
