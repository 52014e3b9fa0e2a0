"""Example tests pinning the documented shapes of the validator's answers.

Codes and fields follow the real API's documented error shapes (Runware's error
pages); the ``message`` wording is ours.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from ltxmock.validators import (
    RequestValidator,
    default_validator,
    documents,
    reset_default_validator,
)
from ltxmock.validators.documents import SPEC_DIR_ENV
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest

import ltxmock
from ltxmock import strategies as S  # noqa: N812

UUID = "24cd5dff-cb81-4db5-8506-b72a9425f9d1"
UUID2 = "f47ac10b-58cc-4372-a567-0e02b2c3d493"
LTX = "lightricks:2@1"
ACME = "acme:1@1"
DATA = Path(__file__).parent / "data"
SPEC = Path(documents.__file__).resolve().parent.parent / "spec"  # not LTXMOCK_SPEC_DIR
SIZES = "1920x1080, 2560x1440, 3840x2160"


def video(**changes: Any) -> dict[str, Any]:
    task = {
        "taskType": "videoInference",
        "taskUUID": UUID,
        "model": LTX,
        "positivePrompt": "Fast-paced action sequence",
        "duration": 6,
        "width": 1920,
        "height": 1080,
        "deliveryMethod": "async",
    }
    task.update(changes)
    return {k: v for k, v in task.items() if v is not ...}


def image(**changes: Any) -> dict[str, Any]:
    task = {
        "taskType": "imageInference",
        "taskUUID": UUID2,
        "model": ACME,
        "positivePrompt": "a red fox",
        "width": 512,
        "height": 768,
        "steps": 30,
    }
    task.update(changes)
    return {k: v for k, v in task.items() if v is not ...}


def only_error(body: Any) -> dict[str, Any]:
    errors = ltxmock.validate(body)
    assert len(errors) == 1, [str(e) for e in errors]
    assert not ltxmock.is_valid(body)
    return errors[0].to_dict()


@pytest.fixture(autouse=True, scope="module")
def _warm() -> None:
    """Build the validator's lazily built engines before any example runs, so no first
    example pays for them and trips the dev profile's 200 ms deadline."""
    for validator in (default_validator(),):
        validator.warm_up()


# -- documented error shapes -------------------------------------------------------------------
def test_unsupported_duration_has_the_documented_shape() -> None:
    # The documented shape: code, parameter, type "float", allowedValues, taskUUID
    error = only_error([video(duration=7)])
    assert error["code"] == "unsupportedDuration"
    assert error["parameter"] == "duration"
    assert error["type"] == "float"
    assert error["allowedValues"] == [6, 8, 10]
    assert error["taskUUID"] == UUID
    assert error["taskType"] == "videoInference"
    assert error["message"].startswith("Invalid value for duration parameter.")
    assert error["documentation"].startswith("https://runware.ai/docs/")


def test_non_string_prompt_is_invalid_positive_prompt() -> None:
    error = only_error([video(positivePrompt=42)])
    assert error["code"] == "invalidPositivePrompt"
    assert error["parameter"] == "positivePrompt"
    assert error["type"] == "string"


def test_missing_prompt_is_missing_parameter() -> None:
    error = only_error([video(positivePrompt=...)])
    assert error["code"] == "missingParameter"
    assert error["parameter"] == "positivePrompt"
    assert "positivePrompt" in error["message"]


def test_seed_is_an_unsupported_parameter_of_this_model() -> None:
    error = only_error([video(seed=42)])
    assert error["code"] == "unsupportedParameter"
    assert error["parameter"] == "seed"
    assert f"model {LTX} does not support it" in error["message"]


def test_a_pair_outside_the_table_is_unsupported_dimensions() -> None:
    error = only_error([video(width=1920, height=1440)])  # each allowed, the pair is not
    assert error["code"] == "unsupportedDimensions"
    assert error["parameter"] == "height"
    assert f"width and height must be one of {SIZES}" in error["message"].lower()
    assert error["allowedValues"] == SIZES.split(", ")


def test_missing_width_and_height_is_reported_not_defaulted() -> None:
    # The document gives no default size: with neither key every oneOf row matches,
    # so oneOf (exactly one) fails. The validator names it instead of "valid under each of".
    error = only_error([video(width=..., height=...)])
    assert error["code"] == "missingDimensionParameters"
    assert error["parameter"] == "width"
    assert "Missing width and height" in error["message"]
    assert SIZES in error["message"]


def test_width_without_height_is_a_missing_parameter() -> None:
    error = only_error([video(height=...)])
    assert (error["code"], error["parameter"]) == ("missingParameter", "height")


def test_repeated_task_uuid_is_conflict_task_uuid() -> None:
    errors = ltxmock.validate([video(), video(taskUUID=UUID.upper())])  # case-insensitive
    assert [(e.code, e.parameter, e.task_index) for e in errors] == [
        ("conflictTaskUUID", "taskUUID", 1)
    ]
    assert errors[0].to_dict()["taskUUID"] == UUID.upper()


def test_malformed_task_uuid_is_invalid_task_uuid() -> None:
    error = only_error([video(taskUUID="my-task-1")])
    assert (error["code"], error["parameter"]) == ("invalidTaskUUID", "taskUUID")


# -- utility tasks and authentication -----------------------------------------------------------
@pytest.mark.parametrize(
    "task",
    [
        {"taskType": "getResponse", "taskUUID": UUID},
        {"taskType": "ping", "ping": True},
        {"taskType": "ping", "taskUUID": UUID2},
    ],
)
def test_utility_tasks_are_valid(task: dict[str, Any]) -> None:
    assert ltxmock.validate([task]) == []
    assert ltxmock.is_valid([task])


def test_get_response_may_repeat_the_uuid_it_polls() -> None:
    assert ltxmock.validate([video(), {"taskType": "getResponse", "taskUUID": UUID}]) == []


AUTH = {"taskType": "authentication", "apiKey": "k-123"}


def test_authentication_first_is_valid() -> None:
    assert ltxmock.validate([AUTH, video()]) == []
    assert ltxmock.is_valid([AUTH, video()])


def test_authentication_not_first_is_invalid() -> None:
    error = only_error([video(), AUTH])
    assert (error["code"], error["parameter"]) == ("invalidAuthentication", "taskType")


def test_authentication_with_an_extra_key_is_invalid() -> None:
    error = only_error([{**AUTH, "taskUUID": UUID}, video(taskUUID=UUID2)])
    assert (error["code"], error["parameter"]) == ("unsupportedParameter", "taskUUID")


# -- the body itself -----------------------------------------------------------------------------
@pytest.mark.parametrize("body", [video(), {"tasks": []}, "[]", None, 3])
def test_a_body_that_is_not_an_array_is_rejected(body: Any) -> None:
    error = only_error(body)
    assert error["code"] == "invalidRequestBody"
    assert "JSON array" in error["message"]


def test_an_empty_array_is_rejected() -> None:
    error = only_error([])
    assert error["code"] == "invalidRequestBody"
    assert "empty array" in error["message"]


# -- every problem at once -------------------------------------------------------------------------
def test_all_problems_of_one_task_are_reported() -> None:
    errors = ltxmock.validate([video(duration=7, seed=1, positivePrompt="a", fps=30)])
    assert {(e.code, e.parameter) for e in errors} == {
        ("unsupportedDuration", "duration"),
        ("unsupportedParameter", "seed"),
        ("invalidPositivePromptLength", "positivePrompt"),
        ("unsupportedFps", "fps"),
    }
    assert {e.task_uuid for e in errors} == {UUID}


def test_problems_of_several_tasks_carry_their_own_task_uuid() -> None:
    body = [video(duration=7), video(taskUUID=UUID2, outputFormat="GIF"), {"taskType": "ping"}]
    errors = ltxmock.validate(body)
    assert [(e.code, e.task_uuid, e.task_index) for e in errors] == [
        ("unsupportedDuration", UUID, 0),
        ("unsupportedOutputFormat", UUID2, 1),
    ]


@given(S.invalid_tasks())
def test_no_message_speaks_json_schema_jargon(bad: S.InvalidTask) -> None:
    for error in ltxmock.validate([bad.task]):
        assert "is not valid under any of the given schemas" not in error.message
        assert "is valid under each of" not in error.message


# -- number and boolean spellings (JSON equality, not Python's) ---------------------------------
@pytest.mark.parametrize(
    ("changes", "valid"),
    [
        ({"duration": 6.0}, True),  # 6.0 is the number 6
        ({"duration": True}, False),  # true is not a number
        ({"fps": 25.0}, True),  # an integer may be written 25.0
        ({"fps": 25.5}, False),
        ({"numberResults": True}, False),  # true is not 1
        ({"inputs": {"frameImages": [{"image": UUID2, "frame": 0.0}]}}, True),  # const 0
        ({"inputs": {"frameImages": [{"image": UUID2, "frame": False}]}}, False),
        ({"providerSettings": {"lightricks": {"generateAudio": 1}}}, False),
    ],
)
def test_numbers_and_booleans_follow_json_equality(changes: dict[str, Any], valid: bool) -> None:
    body = [video(**changes)]
    assert ltxmock.is_valid(body) is valid
    assert (ltxmock.validate(body) == []) is valid


# -- known differences with other validators (see test_validation_properties.py) ------------------
STOCK = jsonschema.Draft202012Validator(
    default_validator().documents[0].validator_schema(),
    format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
)
OPENAPI = OpenAPI.from_dict(dict(default_validator().documents[0].document))


def openapi_core_accepts(body: list[Any]) -> bool:
    request = MockRequest(
        "https://api.runware.ai",
        "post",
        "/v1/",
        headers={"Authorization": "Bearer test-key"},
        data=json.dumps(body).encode(),
    )
    try:
        OPENAPI.validate_request(request)
    except Exception:
        return False
    return True


@pytest.mark.parametrize(
    ("task", "stock_jsonschema", "openapi_core"),
    [
        # uuid.UUID() drops hyphens and braces before parsing: a stray one passes there.
        (video(taskUUID=UUID[:-2] + "-" + UUID[-2:]), True, True),
        (video(taskUUID=UUID + "}"), True, True),
        # rfc3986-validator ends its grammar with Python "$": a trailing newline passes.
        (video(webhookURL="https://example.com/hook\n"), True, True),
        # Python "$" again, in the document's base64 pattern; openapi-core uses ECMA rules.
        (video(inputs={"frameImages": ["aGVsbG8=\n"]}), True, False),
        # the canonical forms are fine everywhere
        (video(taskUUID=UUID.upper(), webhookURL="https://example.com/hook"), True, True),
    ],
)
def test_known_differences_with_stock_validators(
    task: dict[str, Any], stock_jsonschema: bool, openapi_core: bool
) -> None:
    canonical = task["taskUUID"] == UUID.upper()
    assert ltxmock.is_valid([task]) is canonical
    assert (ltxmock.validate([task]) == []) is canonical
    assert STOCK.is_valid(task) is stock_jsonschema
    assert openapi_core_accepts([task]) is openapi_core


# -- several models --------------------------------------------------------------------------------
@pytest.fixture
def spec_dir(tmp_path: Path) -> Path:
    for source in (*SPEC.glob("*.json"), DATA / "acme-image-1.openapi.json"):
        shutil.copy(source, tmp_path)
    return tmp_path


def test_two_documents_make_two_models(spec_dir: Path) -> None:
    validator = RequestValidator.from_spec_dir(spec_dir)
    assert set(validator.models) == {LTX, ACME}
    assert validator.validate([video(), image()]) == []
    assert validator.is_valid([video(), image()])


def test_each_model_keeps_its_own_constraints(spec_dir: Path) -> None:
    validator = RequestValidator.from_spec_dir(spec_dir)
    assert validator.validate([image(seed=7)]) == []  # acme has a seed; LTX-2 Fast has not
    assert [e.code for e in validator.validate([video(seed=7)])] == ["unsupportedParameter"]
    assert validator.validate([image(width=1920, height=1080, steps=...)]) == []
    errors = validator.validate([image(steps=51), video(width=512, height=768, taskUUID=UUID)])
    assert [(e.code, e.parameter, e.task_index) for e in errors] == [
        ("invalidSteps", "steps", 0),
        ("unsupportedDimensions", "width", 1),
    ]


def test_an_unknown_model_lists_the_models_of_its_task_type(spec_dir: Path) -> None:
    validator = RequestValidator.from_spec_dir(spec_dir)
    errors = validator.validate([image(model="nobody:0@0")])
    assert [(e.code, e.parameter, e.allowed_values) for e in errors] == [
        ("invalidModel", "model", [ACME])  # the only imageInference model
    ]
    # Make acme a videoInference model too: the model alone now picks the schema.
    path = spec_dir / "acme-image-1.openapi.json"
    document = json.loads(path.read_text())
    document["components"]["schemas"]["RequestBody"]["items"]["properties"]["taskType"]["const"] = (
        "videoInference"
    )
    path.write_text(json.dumps(document))
    validator = RequestValidator.from_spec_dir(spec_dir)
    error = only_error_of(validator, [video(model="nobody:0@0")])
    assert (error["code"], error["parameter"]) == ("invalidModel", "model")
    assert sorted(error["allowedValues"]) == sorted([ACME, LTX])
    assert ACME in error["message"]
    assert LTX in error["message"]
    assert validator.validate([video(), image(taskType="videoInference")]) == []


def only_error_of(validator: RequestValidator, body: Any) -> dict[str, Any]:
    errors = validator.validate(body)
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0].to_dict()


def test_spec_dir_environment_variable_adds_the_second_model(spec_dir: Path) -> None:
    saved = os.environ.get(SPEC_DIR_ENV)
    assert ltxmock.validate([image()]) != []  # the packaged documents know no acme model
    try:
        os.environ[SPEC_DIR_ENV] = str(spec_dir)
        reset_default_validator()
        assert ltxmock.validate([image()]) == []
        assert ltxmock.validate([video(), image()]) == []
        assert ltxmock.is_valid([image()])
    finally:
        if saved is None:
            os.environ.pop(SPEC_DIR_ENV, None)
        else:
            os.environ[SPEC_DIR_ENV] = saved
        reset_default_validator()
    assert ltxmock.validate([image()]) != []
