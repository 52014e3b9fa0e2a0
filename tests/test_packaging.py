"""The package installs as designed: spec as package data, validators under ltxmock."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import ltxmock.validators
import pytest
from ltxmock.validators.documents import default_spec_dir, load_documents

import ltxmock

REPO = Path(__file__).resolve().parent.parent
SPEC_NAME = "lightricks-ltx-2-fast.openapi.json"


def _installed_files() -> set[str]:
    # The installed distribution has a RECORD; an egg-info left in a checkout has none.
    for dist in importlib.metadata.distributions(name="ltxmock"):
        if dist.read_text("RECORD") is not None:
            return {str(f).replace("\\", "/") for f in dist.files or []}
    pytest.skip("ltxmock is not installed (run the README's test command)")


def test_the_validation_layer_installs_as_ltxmock_validators_only() -> None:
    files = _installed_files()
    if any(f.endswith(".pth") or "__editable__" in f for f in files):
        pytest.skip("editable install: the file list shows no package layout")
    assert "ltxmock/validators/__init__.py" in files
    assert not any(f.startswith("validators/") for f in files), "a top-level validators/ ships"
    assert ltxmock.validators.__name__ == "ltxmock.validators"


def test_the_wheel_ships_the_spec_and_type_markers() -> None:
    files = _installed_files()
    if any(f.endswith(".pth") or "__editable__" in f for f in files):
        pytest.skip("editable install: the file list shows no package layout")
    assert f"ltxmock/spec/{SPEC_NAME}" in files
    assert {"ltxmock/py.typed", "ltxmock/validators/py.typed"} <= files


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


def test_python_dash_m_runs_the_cli_with_both_commands() -> None:
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, "-m", "ltxmock", "--help"], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert "lint" in run.stdout
    assert "serve" in run.stdout
