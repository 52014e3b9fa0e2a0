"""Every document loaded from spec/ or --spec-dir is checked as OpenAPI when it is loaded
(openapi-spec-validator), with an error naming the file and the place."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ltxmock.validators import SpecError, load_documents
from ltxmock.validators.documents import default_spec_dir

from ltxmock.cli import main

PACKAGED = next(default_spec_dir().glob("*.json"))


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LTXMOCK_CACHE_DIR", str(tmp_path / "cache"))


def broken(tmp_path: Path, change: Any) -> Path:
    document = json.loads(PACKAGED.read_text())
    change(document)
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "model.json").write_text(json.dumps(document, indent=2))
    return tmp_path


def test_the_packaged_documents_pass() -> None:
    assert load_documents()


def set_response_type(document: dict[str, Any]) -> None:
    document["components"]["schemas"]["ResponseBody"]["type"] = "objekt"


def drop_info(document: dict[str, Any]) -> None:
    del document["info"]


def bad_ref(document: dict[str, Any]) -> None:
    responses = document["paths"]["/"]["post"]["responses"]
    responses["200"] = {"$ref": "#/components/responses/Nowhere"}


def bad_version(document: dict[str, Any]) -> None:
    document["openapi"] = "9.9.9"


@pytest.mark.parametrize(
    ("change", "place"),
    [
        (set_response_type, "at $.components.schemas.ResponseBody.type: 'objekt' is not valid"),
        (drop_info, 'at the top level: "info" is a required property'),
        (bad_ref, "/components/responses/Nowhere"),
        (bad_version, "at $.openapi: '9.9.9'"),
    ],
)
def test_an_invalid_document_is_refused_naming_file_and_place(
    tmp_path: Path, change: Any, place: str
) -> None:
    folder = broken(tmp_path, change)
    with pytest.raises(SpecError) as raised:
        load_documents(folder)
    message = str(raised.value)
    assert message.startswith(f"{folder / 'model.json'}: not a valid OpenAPI document")
    assert place in message


def test_lint_with_such_a_spec_dir_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = broken(tmp_path, set_response_type)
    (tmp_path / "task.json").write_text("[]")
    assert main(["lint", "--spec-dir", str(folder), str(tmp_path / "task.json")]) == 2
    assert "not a valid OpenAPI document" in capsys.readouterr().err


def test_a_passed_check_is_remembered_by_the_files_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("LTXMOCK_CACHE_DIR", str(cache))
    folder = broken(tmp_path / "spec", lambda document: None)  # a valid copy
    load_documents(folder)
    (marker,) = (cache / "openapi-checked").iterdir()
    import openapi_spec_validator

    def fail(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("checked again")

    monkeypatch.setattr(openapi_spec_validator, "validate", fail)
    load_documents(folder)  # the same bytes: not checked again
    broken(folder, set_response_type)  # other bytes: checked, and refused
    with pytest.raises(AssertionError, match="checked again"):
        load_documents(folder)
    assert marker.exists()


def test_the_remembered_checks_are_bounded(tmp_path: Path) -> None:
    from ltxmock.validators.documents import MAX_REMEMBERED

    folder = tmp_path / "cache" / "openapi-checked"
    folder.mkdir(parents=True)
    for index in range(MAX_REMEMBERED):
        (folder / f"old-{index}").touch()
    load_documents(broken(tmp_path / "spec", lambda document: None))
    assert len(list(folder.iterdir())) == 1  # only the new one
