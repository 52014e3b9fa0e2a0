"""``ltxmock lint``: exit codes, positions, formats, inputs, and the position finder."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ltxmock.validators.documents import default_spec_dir

import ltxmock
from ltxmock.cli import main
from ltxmock.jsonpos import line_column, locate, value_at
from ltxmock.lint import Problem, format_github, format_text, lint_paths, lint_source

UUID = "f47ac10b-58cc-4372-a567-0e02b2c3d493"
TASK = {
    "taskType": "videoInference",
    "taskUUID": UUID,
    "model": "lightricks:2@1",
    "positivePrompt": "a cat on a skateboard",
    "width": 1920,
    "height": 1080,
    "duration": 8,
}
GOOD = json.dumps([TASK], indent=2) + "\n"
# Pretty-printed by hand so the expected positions below can be read off it.
BAD = """\
[
  {
    "taskType": "videoInference",
    "taskUUID": "f47ac10b-58cc-4372-a567-0e02b2c3d493",
    "model": "lightricks:2@1",
    "width": 1920,
    "height": 1080,
    "duration": 7,
    "colour": "red"
  }
]
"""
BROKEN = '[\n  {"taskType": "ping"\n   "ping": true}\n]\n'


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(["lint", *argv])
    except SystemExit as exc:  # argparse reports usage errors this way
        code = exc.code if isinstance(exc.code, int) else 2
    out, err = capsys.readouterr()
    return code, out, err


def expected_line(file: str, line: int, column: int, pointer: str, body: Any) -> str:
    """The text line for the error at ``pointer``, its wording taken from ltxmock.validate."""
    (error,) = [e for e in ltxmock.validate(body) if e.pointer == pointer]
    return f"{file}:{line}:{column}: {error.code} {error.parameter}: {error.message}"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good.json").write_text(GOOD)
    (tmp_path / "bad.json").write_text(BAD)
    (tmp_path / "broken.json").write_text(BROKEN)
    return tmp_path


def feed_stdin(monkeypatch: pytest.MonkeyPatch, data: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data.encode())))


# -- exit codes -------------------------------------------------------------------


def test_a_valid_file_exits_0_quietly(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "good.json")
    assert (code, out) == (0, "")
    assert err == "No problems in 1 file.\n"


def test_problems_are_reported_at_their_line_and_column(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "bad.json")
    body = json.loads(BAD)
    assert code == 1
    lines = out.splitlines()
    # A missing parameter points at the task object that lacks it.
    assert expected_line("bad.json", 2, 3, "/0/positivePrompt", body) in lines
    # A bad value points at the value; an unknown key at the key.
    assert expected_line("bad.json", 8, 17, "/0/duration", body) in lines
    assert expected_line("bad.json", 9, 5, "/0/colour", body) in lines
    assert len(lines) == len(ltxmock.validate(body))
    assert lines == sorted(lines, key=lambda s: [int(n) for n in s.split(":")[1:3]])
    assert err == f"{len(lines)} problems in 1 of 1 file.\n"


def test_broken_json_exits_2_naming_file_line_column_and_the_fix(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "broken.json", "good.json")
    assert (code, out) == (2, "")
    assert err.splitlines()[0] == (
        "broken.json:3:4: invalidJSON: Invalid JSON (Expecting ',' delimiter). "
        "Add the missing comma, or close the string before this point."
    )
    assert err.splitlines()[1] == "1 of 2 files could not be linted; no problems in the others."


@pytest.mark.parametrize(
    ("content", "position", "says"),
    [
        ("", "1:1", "The file is empty"),
        ('[{"taskType": "ping",}]', "1:22", "remove any comma before '}'"),
        ('[{"ping": NaN}]', "1:11", "NaN is not a JSON value"),
        ('[{"taskType": "ping"}]\n[]', "2:1", "put one per line in a .jsonl file"),
    ],
)
def test_each_kind_of_unreadable_json_is_explained(
    workdir: Path, capsys: pytest.CaptureFixture[str], content: str, position: str, says: str
) -> None:
    (workdir / "x.json").write_text(content)
    code, _, err = run(capsys, "x.json")
    assert code == 2
    assert err.startswith(f"x.json:{position}: invalidJSON: ")
    assert says in err.splitlines()[0]


def test_a_file_that_is_not_utf8_exits_2(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "latin1.json").write_bytes(b'[{"taskType": "caf\xe9"}]')
    code, _, err = run(capsys, "latin1.json")
    assert code == 2
    assert err.startswith("latin1.json:1:19: invalidJSON: Invalid JSON (not UTF-8 text")


def test_a_missing_file_exits_2(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "nope.json", "good.json")
    assert (code, out) == (2, "")
    assert err.startswith("nope.json: unreadableFile: Cannot read nope.json: No such file")


@pytest.mark.parametrize("argv", [["--bogus"], ["--format", "xml", "good.json"]])
def test_a_bad_option_exits_2(
    workdir: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert "usage:" in err


# -- positions --------------------------------------------------------------------


def test_columns_count_characters_and_survive_bom_and_crlf(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    task = {**TASK, "positivePrompt": "café ☕ 🐈", "duration": 7}
    text = "[\r\n" + json.dumps(task, ensure_ascii=False) + "\r\n]\r\n"
    (workdir / "u.json").write_bytes(b"\xef\xbb\xbf" + text.encode())
    code, out, _ = run(capsys, "u.json")
    column = text.splitlines()[1].index('"duration": 7') + 13  # Python indexes characters
    assert code == 1
    assert out.startswith(f"u.json:2:{column}: unsupportedDuration duration: ")


def test_a_body_that_is_not_an_array_is_reported_at_its_start(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "obj.json").write_text('\n\n   {"taskType": "ping"}')
    code, out, _ = run(capsys, "obj.json")
    assert code == 1
    assert out.startswith("obj.json:3:4: invalidRequestBody: The request body must be")


# -- formats -----------------------------------------------------------------------


def test_json_format(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--format", "json", "good.json", "bad.json")
    found = json.loads(out)
    assert code == 1
    assert {tuple(item) for item in found} == {
        ("file", "line", "column", "pointer", "code", "parameter", "message", "taskUUID")
    }
    duration = next(item for item in found if item["pointer"] == "/0/duration")
    assert duration == {
        "file": "bad.json",
        "line": 8,
        "column": 17,
        "pointer": "/0/duration",
        "code": "unsupportedDuration",
        "parameter": "duration",
        "message": duration["message"],
        "taskUUID": UUID,
    }
    assert "(got 7)" in duration["message"]


def test_json_format_lists_unreadable_files_too(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--format", "json", "broken.json")
    assert code == 2
    assert [(p["file"], p["line"], p["column"], p["code"]) for p in json.loads(out)] == [
        ("broken.json", 3, 4, "invalidJSON")
    ]


def test_json_format_of_a_clean_run_is_an_empty_list(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "--format", "json", "good.json")[:2] == (0, "[]\n")


def test_github_format(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--format", "github", ".")
    lines = out.splitlines()
    assert code == 2  # broken.json is in the directory
    assert "::error file=broken.json,line=3,col=4,title=invalidJSON::Invalid JSON" in out
    duration = next(line for line in lines if "line=8," in line)
    assert duration.startswith(
        "::error file=bad.json,line=8,col=17,title=unsupportedDuration::Invalid value for duration"
    )


def test_github_format_escapes_data_and_properties() -> None:
    problem = Problem("a,b:c%.json", 1, 2, "x:y", "100% wrong\r\nreally, truly: yes")
    assert format_github([problem]) == (
        "::error file=a%2Cb%3Ac%25.json,line=1,col=2,title=x%3Ay::"
        "100%25 wrong%0D%0Areally, truly: yes\n"
    )


def test_text_format_keeps_one_line_per_problem() -> None:
    problem = Problem("f.json", 1, 1, "invalidX", "first line\nsecond line")
    assert format_text([problem]) == "f.json:1:1: invalidX: first line second line\n"


# -- inputs ------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [["-"], []])
def test_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    feed_stdin(monkeypatch, BAD)
    code, out, _ = run(capsys, *argv)
    assert code == 1
    assert "<stdin>:8:17: unsupportedDuration duration: " in out


def test_empty_stdin_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    feed_stdin(monkeypatch, "\n")
    code, _, err = run(capsys)
    assert code == 2
    assert err.startswith("<stdin>:1:1: invalidJSON: No input on standard input.")


def jsonl(*bodies: Any) -> str:
    return "".join(json.dumps(b) + "\n" if b is not None else "\n" for b in bodies)


def test_stdin_with_several_lines_is_read_as_json_lines(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = [{**TASK, "duration": 7}]
    text = jsonl([TASK], None, bad, [TASK])
    feed_stdin(monkeypatch, text)
    code, out, err = run(capsys)
    column = text.splitlines()[2].index('"duration": 7') + 13
    assert code == 1
    assert out.startswith(f"<stdin>:3:{column}: unsupportedDuration duration: ")
    assert err == "1 problem in 1 of 1 file (3 request bodies).\n"


def test_stdin_with_a_pretty_document_and_more_is_not_json_lines(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    feed_stdin(monkeypatch, GOOD + "[]\n")
    code, _, err = run(capsys)
    assert code == 2
    assert err.startswith(f"<stdin>:{GOOD.count(chr(10)) + 1}:1: invalidJSON: Invalid JSON (Extra")
    assert "one single-line request body per line (JSON Lines)" in err


def test_json_lines_files_report_physical_line_numbers(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = jsonl([TASK], None, None, [{**TASK, "colour": 1}]) + '[{"taskType": "ping"}\n'
    (workdir / "batch.jsonl").write_text(text)
    code, out, err = run(capsys, "batch.jsonl")
    column = text.splitlines()[3].index('"colour"') + 1
    assert code == 2  # line 5 is not JSON; the rest is still linted
    assert out.startswith(f"batch.jsonl:4:{column}: unsupportedParameter colour: ")
    assert err.splitlines() == [
        "batch.jsonl:5:22: invalidJSON: Invalid JSON (Expecting ',' delimiter). "
        "Add the missing comma, or close the string before this point.",
        "1 problem in 1 of 1 file (2 request bodies); 1 file could not be linted.",
    ]


def test_directories_are_linted_recursively_in_sorted_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("b/z.json", "b/a.jsonl", "a.json", "b-c/x.json", "b/deep/er/y.JSON"):
        (tmp_path / "p" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "p" / name).write_text(BAD if name.endswith(("json", "JSON")) else "")
    (tmp_path / "p" / "b" / "a.jsonl").write_text(jsonl(json.loads(BAD)))
    (tmp_path / "p" / "notes.txt").write_text("not a payload")
    (tmp_path / "p" / ".git").mkdir()
    (tmp_path / "p" / ".git" / "hidden.json").write_text("{")
    code, out, err = run(capsys, "p")
    files = list(dict.fromkeys(line.split(":")[0] for line in out.splitlines()))
    assert code == 1
    assert files == ["p/a.json", "p/b/a.jsonl", "p/b/deep/er/y.JSON", "p/b/z.json", "p/b-c/x.json"]
    assert err.endswith("in 5 of 5 files.\n")


def test_a_directory_without_payloads_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, str(tmp_path))
    assert code == 2
    assert f"noPayloadFiles: No *.json or *.jsonl files under {tmp_path}" in err


def test_spec_dir(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A document that also allows 7-second clips: bad.json's duration becomes fine.
    spec = workdir / "spec"
    spec.mkdir()
    (source,) = default_spec_dir().glob("*.json")
    document = json.loads(source.read_text())
    duration = document["components"]["schemas"]["RequestBody"]["items"]["properties"]["duration"]
    duration["enum"].append(7)
    (spec / source.name).write_text(json.dumps(document))
    _, default_out, _ = run(capsys, "bad.json")
    code, out, _ = run(capsys, "--spec-dir", "spec", "bad.json")
    assert code == 1
    assert ":8:17: unsupportedDuration" in default_out
    assert ":8:17:" not in out
    assert out.splitlines() == [line for line in default_out.splitlines() if ":8:17:" not in line]


def test_a_spec_dir_without_documents_exits_2(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "nothing").mkdir()
    code, _, err = run(capsys, "--spec-dir", "nothing", "good.json")
    assert code == 2
    assert err.startswith("ltxmock lint: error: no OpenAPI documents (*.json) in nothing")


def test_lint_paths_is_the_library_entry(workdir: Path) -> None:
    report = lint_paths([workdir / "good.json", "bad.json"])
    assert (report.files, report.bodies, report.exit_code) == (2, 2, 1)
    assert {p.file for p in report.problems} == {"bad.json"}
    assert lint_source("mem.json", GOOD) == []
    assert [p.line for p in lint_source("mem.jsonl", jsonl([TASK], [1]), jsonl=True)] == [2]


# -- the console script, for real ------------------------------------------------------

HEAVY = ("flask", "av", "numpy", "hypothesis", "openapi_core")


def test_the_console_script_lints_without_importing_heavy_modules(workdir: Path) -> None:
    script = Path(sys.executable).parent / "ltxmock"
    command = [str(script)] if script.exists() else [shutil.which("ltxmock") or "ltxmock"]
    done = subprocess.run(
        [*command, "lint", "good.json", "bad.json"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert done.stdout.splitlines()[1].startswith("bad.json:8:17: unsupportedDuration duration:")
    probe = (
        "import sys; from ltxmock.cli import main; code = main(['lint', 'good.json']); "
        f"print(code, sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert done.stdout.strip() == "0 []", done.stderr


# -- the position finder ------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(alphabet='ab/~é"\\ \n0', max_size=4), inner, max_size=4)
    ),
    max_leaves=25,
)


def escape(token: str | int) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def offset_of(text: str, line: int, column: int) -> int:
    return sum(len(row) + 1 for row in text.split("\n")[: line - 1]) + column - 1


@settings(max_examples=300, deadline=None)
@given(
    document=documents,
    indent=st.sampled_from([None, 0, 1, 2, 4, "\t"]),
    ascii_only=st.booleans(),
    data=st.data(),
)
def test_every_pointer_is_found_where_its_value_is_written(
    document: Any, indent: int | str | None, ascii_only: bool, data: st.DataObject
) -> None:
    text = json.dumps(document, indent=indent, ensure_ascii=ascii_only)
    node, path = document, []
    while isinstance(node, dict | list) and node and data.draw(st.booleans()):
        step = data.draw(
            st.sampled_from(list(node) if isinstance(node, dict) else range(len(node)))
        )
        path.append(step)
        node = node[step]
    pointer = "".join(f"/{escape(p)}" for p in path)

    where = locate(text, pointer)
    assert where.found
    line, column = line_column(text, where.value)
    # Re-parse from the reported line and column: it is exactly this value.
    at = offset_of(text, line, column)
    assert json.dumps(value_at(text, at)) == json.dumps(node)
    if path and isinstance(path[-1], str):
        assert where.key is not None
        assert value_at(text, where.key) == path[-1]
    # A name the node lacks resolves to the node itself, not found.
    if isinstance(node, dict):
        missing = locate(text, pointer + "/" + escape("".join(node) + "?"))
        assert (missing.found, missing.value) == (False, where.value)
    if isinstance(node, list):
        missing = locate(text, f"{pointer}/{len(node)}")
        assert (missing.found, missing.value) == (False, where.value)


def test_a_repeated_member_resolves_to_the_last_as_json_loads_keeps() -> None:
    text = '{"a": 1, "a": [2]}'
    where = locate(text, "/a/0")
    assert json.loads(text)["a"][0] == value_at(text, where.value) == 2
    assert (where.found, where.value) == (True, 15)
