"""The package installs as designed: spec as package data, validators under ltxmock."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import ltxmock.validators
from ltxmock.validators.documents import default_spec_dir, load_documents

import ltxmock

REPO = Path(__file__).resolve().parent.parent
SPEC_NAME = "lightricks-ltx-2-fast.openapi.json"


def test_the_validation_layer_is_importable_only_as_ltxmock_validators() -> None:
    assert ltxmock.validators.__name__ == "ltxmock.validators"
    top_level = importlib.util.find_spec("validators")
    # The PyPI package "validators" may be installed; ours must never be that module.
    if top_level is not None and top_level.origin is not None:
        assert Path(top_level.origin).resolve() != (REPO / "validators" / "__init__.py")


def test_the_packaged_spec_is_the_document_byte_for_byte() -> None:
    packaged = default_spec_dir() / SPEC_NAME
    assert packaged.is_file(), f"spec not shipped with the package: looked in {packaged}"
    assert packaged.read_bytes() == (REPO / "spec" / SPEC_NAME).read_bytes()
    shared = REPO.parent / "shared" / "spec" / SPEC_NAME
    if shared.is_file():
        assert packaged.read_bytes() == shared.read_bytes()


def test_the_model_facts_come_from_the_document() -> None:
    (doc,) = load_documents()
    raw = json.loads((REPO / "spec" / SPEC_NAME).read_text())
    assert doc.air_id == raw["info"]["x-air-id"] == "lightricks:2@1"
    assert doc.task_type == "videoInference"
    assert doc.item_schema == raw["components"]["schemas"]["RequestBody"]["items"]


def test_the_package_is_typed() -> None:
    assert (Path(ltxmock.__file__).parent / "py.typed").is_file()
    assert (Path(ltxmock.validators.__file__).parent / "py.typed").is_file()
