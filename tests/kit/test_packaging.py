"""The package installs as designed: spec as package data, validators under ltxmock."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import ltxmock.validators
import pytest
from ltxmock.validators.documents import default_spec_dir, load_documents

import ltxmock
import ltxmock.extras
from ltxmock.extras import SERVER_EXTRA, SERVER_PACKAGES, missing_server_packages, server_extra_hint

REPO = Path(__file__).resolve().parents[2]
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


# The light install: `pip install ltxmock` is the linter, the server is an extra.

# Import names of the server's and media's packages (and their own dependencies
# the light install must not need either).
SERVER_MODULES = (
    "flask",
    "werkzeug",
    "flask_sock",
    "uvicorn",
    "uvicorn_worker",
    "gunicorn",
    "httptools",
    "uvloop",
    "websockets",
    "a2wsgi",
    "av",
    "numpy",
    "PIL",
    "orjson",
    "openapi_core",
)


def _pyproject() -> dict[str, Any]:
    import tomllib

    with (REPO / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def _name(requirement: str) -> str:
    """The normalized distribution name of a PEP 508 requirement string."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def test_the_base_install_has_no_server_or_media_package() -> None:
    project = _pyproject()["project"]
    base = {_name(r) for r in project["dependencies"]}
    server = {_name(r) for r in project["optional-dependencies"][SERVER_EXTRA]}
    assert base.isdisjoint(server)
    heavy = {_name(m) for m in SERVER_MODULES} | {"pillow", "flask-sock", "openapi-core"}
    assert base.isdisjoint(heavy), f"server/media packages in the base install: {base & heavy}"
    assert {"jsonschema", "jsonschema-rs", "rfc3986-validator", "hypothesis"} <= base


def test_the_server_extra_is_the_one_extras_py_checks() -> None:
    extras = _pyproject()["project"]["optional-dependencies"]
    assert [_name(r) for r in extras[SERVER_EXTRA]] == list(SERVER_PACKAGES)
    assert "ltxmock[server]" in extras["test"], "the test extra must pull the server extra"


def _only_missing(
    monkeypatch: pytest.MonkeyPatch, absent: set[str], raising: frozenset[str] = frozenset()
) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> Any:
        if name in raising:
            raise ValueError(f"{name}.__spec__ is None")
        if name in absent:
            return None
        if name in SERVER_PACKAGES.values():
            return real("json")  # present: any spec will do, without importing `name`
        return real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_nothing_is_missing_with_the_server_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    _only_missing(monkeypatch, set())
    assert missing_server_packages() == []
    assert server_extra_hint() is None


def test_missing_packages_are_named_by_distribution(monkeypatch: pytest.MonkeyPatch) -> None:
    _only_missing(monkeypatch, {"PIL", "flask_sock", "uvicorn"})
    assert missing_server_packages() == ["flask-sock", "uvicorn", "pillow"]
    assert server_extra_hint() == (
        "ltxmock serve needs the server extra: pip install 'ltxmock[server]' "
        "(missing: flask-sock, uvicorn, pillow)"
    )


def test_the_hint_names_every_package_of_a_light_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _only_missing(monkeypatch, set(SERVER_PACKAGES.values()))
    expected = [d for d in SERVER_PACKAGES if d != "uvloop" or sys.platform != "win32"]
    assert missing_server_packages() == expected
    hint = server_extra_hint()
    assert hint is not None
    assert "\n" not in hint
    assert hint.startswith("ltxmock serve needs the server extra: pip install 'ltxmock[server]'")
    assert hint.endswith(f"(missing: {', '.join(expected)})")


def test_uvloop_is_not_asked_for_on_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ltxmock.extras, "_PLATFORM_ONLY", {"uvloop": False})
    _only_missing(monkeypatch, {"uvloop", "numpy"})
    assert missing_server_packages() == ["numpy"]


def test_a_module_loaded_without_a_spec_counts_as_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _only_missing(monkeypatch, set(), raising=frozenset({"orjson"}))
    assert missing_server_packages() == []


def _run_checkout_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    # The interpreter running the suite (the project's .venv), importing this checkout.
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=REPO,
    )


def test_the_linter_and_the_strategies_load_no_server_package() -> None:
    code = f"""
import sys
import ltxmock, ltxmock.lint, ltxmock.strategies, ltxmock.extras
ltxmock.extras.server_extra_hint()
assert ltxmock.is_valid([]) is False
heavy = {SERVER_MODULES!r}
print(sorted({{m.split(".")[0] for m in sys.modules}} & set(heavy)))
"""
    run = _run_checkout_python(code)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]", f"the light install would need: {run.stdout.strip()}"


# Stands in for a light install: the server's packages cannot be imported.
_BLOCK_SERVER = """
import runpy, sys

class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
sys.argv = ["ltxmock", *sys.argv[1:]]
runpy.run_module("ltxmock", run_name="__main__")
"""


def test_ltxmock_lint_runs_without_the_server_extra(tmp_path: Path) -> None:
    task = {
        "taskType": "videoInference",
        "taskUUID": "f47ac10b-58cc-4372-a567-0e02b2c3d493",
        "model": "lightricks:2@1",
        "positivePrompt": "a cat on a skateboard",
        "width": 1920,
        "height": 1080,
        "duration": 8,
    }
    good = tmp_path / "good.json"
    good.write_text(json.dumps([task]))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps([{**task, "duration": 7}]) + "\n")
    code = _BLOCK_SERVER.format(blocked=SERVER_MODULES)
    run = _run_checkout_python(code, "lint", str(good))
    assert run.returncode == 0, run.stderr
    run = _run_checkout_python(code, "lint", str(bad))
    assert run.returncode == 1, run.stderr
    assert "unsupportedDuration" in run.stdout


def test_every_package_directory_is_in_the_explicit_package_list() -> None:
    setuptools = _pyproject()["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    found = {
        ".".join(init.parent.relative_to(REPO).parts)
        for init in (REPO / "ltxmock").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert setuptools["package-dir"]["ltxmock.validators"] == "validators"
    assert setuptools["package-dir"]["ltxmock.spec"] == "spec"
    assert {"ltxmock.validators", "ltxmock.spec"} <= listed
