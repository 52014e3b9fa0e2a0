"""``ltxmock lint``: check request-body files before they are sent.

The fast path per document is ``json`` decoding plus the compiled
``is_valid`` verdict; only a document that fails is explained (``validate``)
and scanned again to place each problem at a line and column. Nothing heavier
than the validation core is imported, so start-up stays small.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ltxmock.jsonpos import line_column, locate
from ltxmock.validators import PayloadError, RequestValidator, SpecError, default_validator

__all__ = [
    "LintReport",
    "Problem",
    "add_lint_command",
    "format_github",
    "format_json",
    "format_text",
    "lint_paths",
    "lint_source",
    "run_lint",
]

STDIN = "-"
STDIN_NAME = "<stdin>"
PAYLOAD_SUFFIXES = (".json", ".jsonl")
INVALID_JSON = "invalidJSON"
UNREADABLE = "unreadableFile"
NO_FILES = "noPayloadFiles"
# Errors whose pointer names a key that should not be there: point at the key.
_KEY_KEYWORDS = frozenset({"additionalProperties", "unevaluatedProperties"})


class _NonStandardConstantError(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; JSON (and the API) does not.
    raise _NonStandardConstantError(name)


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_CONSTANT = re.compile(r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)')

_HINTS = (
    ("Expecting ',' delimiter", "Add the missing comma, or close the string before this point"),
    ("Expecting ':' delimiter", "Put a ':' between the member name and its value"),
    (
        "Expecting property name",
        "Quote member names with double quotes, and remove any comma before '}'",
    ),
    (
        "Expecting value",
        "Put a value here: remove a trailing comma, quote strings with double quotes, "
        "and write literals as true, false or null",
    ),
    ("Unterminated string", "Close the string with a double quote"),
    ("Invalid control character", "Write line breaks and tabs inside strings as \\n and \\t"),
    ("Invalid \\u", "Write a \\u escape with exactly four hex digits"),
    ("Invalid \\escape", "Write a backslash inside a string as \\\\"),
)


@dataclass(frozen=True)
class Problem:
    """One finding: a payload problem, or (``fatal``) a file that cannot be linted."""

    file: str
    line: int | None
    column: int | None
    code: str
    message: str
    pointer: str | None = None
    parameter: str | None = None
    task_uuid: str | None = None
    fatal: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "pointer": self.pointer,
            "code": self.code,
            "parameter": self.parameter,
            "message": self.message,
            "taskUUID": self.task_uuid,
        }


@dataclass
class LintReport:
    """What ``lint_paths`` found: how much it read, and every problem in file order."""

    files: int = 0
    bodies: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def fatal(self) -> list[Problem]:
        return [p for p in self.problems if p.fatal]

    @property
    def exit_code(self) -> int:
        if any(p.fatal for p in self.problems):
            return 2
        return 1 if self.problems else 0

    def summary(self) -> str:
        """E.g. ``3 problems in 2 of 10 files; 1 file could not be linted.``"""
        broken = len({p.file for p in self.problems if p.fatal})
        found = [p for p in self.problems if not p.fatal]
        read = _plural(self.files, "file")
        if self.bodies > self.files:  # JSON Lines: say how many bodies that was
            read += f" ({_plural(self.bodies, 'request body', 'request bodies')})"
        if found:
            text = f"{_plural(len(found), 'problem')} in {len({p.file for p in found})} of {read}"
            return text + (f"; {_plural(broken, 'file')} could not be linted." if broken else ".")
        if not broken:
            return f"No problems in {read}."
        if broken == self.files:
            return f"{_plural(broken, 'file')} could not be linted."
        return f"{broken} of {read} could not be linted; no problems in the others."


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


# -- linting -------------------------------------------------------------------


def lint_paths(
    paths: Sequence[str | os.PathLike[str]],
    *,
    spec_dir: str | os.PathLike[str] | None = None,
    stdin: IO[bytes] | None = None,
) -> LintReport:
    """Lint files, directories (their ``*.json``/``*.jsonl`` files) and ``-`` (stdin).

    No paths means standard input. Raises ``SpecError`` when ``spec_dir``
    holds no usable OpenAPI document.
    """
    validator = (
        default_validator() if spec_dir is None else RequestValidator.from_spec_dir(Path(spec_dir))
    )
    report = LintReport()
    for arg in [os.fspath(p) for p in paths] or [STDIN]:
        if arg == STDIN:
            data = (stdin or sys.stdin.buffer).read()
            _lint_into(report, STDIN_NAME, data, None, validator)
        elif os.path.isdir(arg):
            files, problems = _payload_files(arg)
            report.problems.extend(problems)
            report.files += len(problems)  # each unlistable directory counts as a failed input
            if not files and not problems:
                report.files += 1
                report.problems.append(
                    Problem(
                        arg,
                        None,
                        None,
                        NO_FILES,
                        f"No *.json or *.jsonl files under {arg}. Pass payload files, "
                        "or a directory that holds them.",
                        fatal=True,
                    )
                )
            for path in files:
                _lint_file(report, path, validator)
        else:
            _lint_file(report, arg, validator)
    return report


def lint_source(
    name: str,
    data: bytes | str,
    *,
    jsonl: bool | None = False,
    validator: RequestValidator | None = None,
) -> list[Problem]:
    """Problems in one file's content; ``jsonl=None`` detects JSON Lines as stdin does."""
    report = LintReport()
    _lint_into(report, name, data, jsonl, validator or default_validator())
    return report.problems


def _lint_file(report: LintReport, path: str, validator: RequestValidator) -> None:
    try:
        data = _read(path)
    except OSError as exc:
        report.files += 1
        reason = exc.strerror or str(exc)
        report.problems.append(
            Problem(
                path,
                None,
                None,
                UNREADABLE,
                f"Cannot read {path}: {reason}. Check the path and its permissions.",
                fatal=True,
            )
        )
        return
    _lint_into(report, path, data, path.lower().endswith(".jsonl"), validator)


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_CHUNK = 1 << 16


def _read(path: str) -> bytes:
    # os.open/os.read skip the buffered-file object: half the cost of open().read()
    # for the small files linted here, which is most of the time spent per file.
    fd = os.open(path, _OPEN_FLAGS)
    try:
        data = os.read(fd, _CHUNK)
        if len(data) < _CHUNK:
            return data
        parts = [data]
        while chunk := os.read(fd, 1 << 20):
            parts.append(chunk)
        return b"".join(parts)
    finally:
        os.close(fd)


def _lint_into(
    report: LintReport,
    name: str,
    data: bytes | str,
    jsonl: bool | None,
    validator: RequestValidator,
) -> None:
    """Lint one source; ``jsonl`` None: one document, or JSON Lines if it holds several."""
    report.files += 1
    if isinstance(data, bytes):
        try:
            # The same decoding json.loads(bytes) does: UTF-8/16/32, BOM dropped.
            text = data.decode(json.detect_encoding(data), "surrogatepass")
        except UnicodeDecodeError as exc:
            head = data[: exc.start].decode("utf-8", "replace")
            line, column = line_column(head, len(head))
            report.problems.append(
                Problem(
                    name,
                    line,
                    column,
                    INVALID_JSON,
                    f"Invalid JSON (not UTF-8 text: {exc.reason}). Save the file as UTF-8.",
                    fatal=True,
                )
            )
            return
    else:
        text = data
    if not jsonl:
        try:
            body = _DECODER.decode(text)
        except json.JSONDecodeError as exc:
            if jsonl is None and exc.msg == "Extra data" and "\n" not in text[: exc.pos].strip():
                jsonl = True  # a one-line document, then more: read it as JSON Lines below
            else:
                report.problems.append(_syntax_problem(name, text, exc, 0, stdin=jsonl is None))
                return
        except (_NonStandardConstantError, RecursionError) as exc:
            report.problems.append(_parse_problem(name, text, exc, 0))
            return
        else:
            report.bodies += 1
            if not validator.is_valid(body):
                report.problems.extend(_explain(name, text, body, validator, 0))
            return
    for number, line_text in enumerate(text.split("\n")):
        if not line_text.strip():
            continue
        try:
            body = _DECODER.decode(line_text)
        except json.JSONDecodeError as exc:
            report.problems.append(_syntax_problem(name, line_text, exc, number, jsonl=True))
            continue
        except (_NonStandardConstantError, RecursionError) as exc:
            report.problems.append(_parse_problem(name, line_text, exc, number))
            continue
        report.bodies += 1
        if not validator.is_valid(body):
            report.problems.extend(_explain(name, line_text, body, validator, number))


def _explain(
    name: str, text: str, body: Any, validator: RequestValidator, lines_before: int
) -> list[Problem]:
    found = [_place(name, text, error, lines_before) for error in validator.validate(body)]
    found.sort(key=lambda p: (p.line or 0, p.column or 0))  # stable: request order on ties
    return found


def _place(name: str, text: str, error: PayloadError, lines_before: int) -> Problem:
    try:
        where = locate(text, error.pointer)
    except ValueError:  # not a pointer we can follow: blame the whole body
        where = locate(text, "")
    offset = where.value
    if (
        where.found
        and where.key is not None
        and (error.keyword in _KEY_KEYWORDS or error.code == "unsupportedParameter")
    ):
        offset = where.key
    line, column = line_column(text, offset)
    return Problem(
        name,
        line + lines_before,
        column,
        error.code,
        error.message,
        pointer=error.pointer,
        parameter=error.parameter,
        task_uuid=error.task_uuid,
    )


def _syntax_problem(
    name: str,
    text: str,
    exc: json.JSONDecodeError,
    lines_before: int,
    *,
    stdin: bool = False,
    jsonl: bool = False,
) -> Problem:
    if not text.strip():
        message = (
            "No input on standard input. Pipe a request body (a JSON array of tasks) "
            "into ltxmock lint, or pass file paths."
            if stdin
            else "The file is empty. Write a request body in it: a JSON array of tasks, "
            'e.g. [{"taskType": "ping"}].'
        )
        return Problem(name, 1, 1, INVALID_JSON, message, fatal=True)
    if exc.msg == "Extra data":
        if jsonl:
            hint = "Keep one request body per line"
        elif stdin:
            hint = "Pipe one request body, or one single-line request body per line (JSON Lines)"
        else:
            hint = (
                "Keep one request body (a JSON array of tasks) per .json file, "
                "or put one per line in a .jsonl file"
            )
    else:
        hint = next((h for prefix, h in _HINTS if exc.msg.startswith(prefix)), "Fix it")
    return Problem(
        name,
        exc.lineno + lines_before,
        exc.colno,
        INVALID_JSON,
        f"Invalid JSON ({exc.msg}). {hint}.",
        fatal=True,
    )


def _parse_problem(name: str, text: str, exc: Exception, lines_before: int) -> Problem:
    if isinstance(exc, _NonStandardConstantError):
        match = next((m for m in _CONSTANT.finditer(text) if m.group(1)), None)
        line, column = line_column(text, match.start(1)) if match else (1, 1)
        message = f"Invalid JSON ({exc} is not a JSON value). Use a number, or null."
    else:
        line, column = 1, 1
        message = "Invalid JSON (nested too deeply to read). Flatten the document."
    return Problem(name, line + lines_before, column, INVALID_JSON, message, fatal=True)


def _payload_files(top: str) -> tuple[list[str], list[Problem]]:
    """Every payload file below ``top`` in path order; hidden directories are skipped."""
    found: list[str] = []
    problems: list[Problem] = []
    pending = [top]
    while pending:
        directory = pending.pop()
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        if not entry.name.startswith("."):
                            pending.append(entry.path)
                    elif entry.name.lower().endswith(PAYLOAD_SUFFIXES):
                        found.append(entry.path)
        except OSError as exc:
            problems.append(
                Problem(
                    directory,
                    None,
                    None,
                    UNREADABLE,
                    f"Cannot list {directory}: {exc.strerror or exc}.",
                    fatal=True,
                )
            )
    found.sort(key=lambda path: path.split(os.sep))
    return found, problems


# -- output --------------------------------------------------------------------


def _position(problem: Problem) -> str:
    if problem.line is None:
        return problem.file
    return f"{problem.file}:{problem.line}:{problem.column}"


def _text_line(problem: Problem) -> str:
    code = f"{problem.code} {problem.parameter}" if problem.parameter else problem.code
    return f"{_position(problem)}: {code}: {' '.join(problem.message.split())}\n"


def format_text(problems: Iterable[Problem]) -> str:
    """One ``file:line:col: code parameter: message`` line per problem."""
    return "".join(_text_line(p) for p in problems)


def format_json(problems: Iterable[Problem]) -> str:
    return json.dumps([p.to_dict() for p in problems], indent=2, ensure_ascii=False) + "\n"


def _gh_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(value: str) -> str:
    return _gh_data(value).replace(":", "%3A").replace(",", "%2C")


def format_github(problems: Iterable[Problem]) -> str:
    """GitHub Actions ``::error`` workflow commands, escaped as the runner expects."""
    out = []
    for p in problems:
        # "./x.json" (from linting ".") and "x.json" are the same file to GitHub.
        props = [f"file={_gh_property(os.path.normpath(p.file))}"]
        if p.line is not None:
            props += [f"line={p.line}", f"col={p.column}"]
        props.append(f"title={_gh_property(p.code)}")
        out.append(f"::error {','.join(props)}::{_gh_data(p.message)}\n")
    return "".join(out)


FORMATS = {"text": format_text, "json": format_json, "github": format_github}


# -- command line --------------------------------------------------------------

DESCRIPTION = """\
Check Runware request bodies (the JSON array of tasks sent to POST /v1) before
sending them: each task is validated against the model's OpenAPI document, and
each problem is reported at its line and column in the file."""

EPILOG = """\
exit status: 0 when every request body is valid, 1 when any has a problem,
2 on a usage error or a file that cannot be read or is not JSON.
A summary goes to standard error."""

PATH_HELP = (
    "a .json file (one request body), a .jsonl file (one request body per "
    "non-empty line), a directory (every *.json and *.jsonl file below it, in "
    "sorted order, hidden directories skipped), or - for standard input (the "
    "default). Standard input is read as one JSON document; when that fails "
    "because it holds several, it is read as JSON Lines."
)
FORMAT_HELP = (
    "text (default): 'FILE:LINE:COL: CODE PARAMETER: MESSAGE' per problem; "
    "json: a JSON list of {file, line, column, pointer, code, parameter, "
    "message, taskUUID}; github: GitHub Actions ::error annotations"
)


def add_lint_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``lint`` on an ``add_subparsers()`` object."""
    parser = subparsers.add_parser(
        "lint",
        help="check request-body files against the API schema",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help=PATH_HELP)
    parser.add_argument("--format", choices=tuple(FORMATS), default="text", help=FORMAT_HELP)
    parser.add_argument(
        "--spec-dir",
        metavar="DIR",
        type=Path,
        help="lint against the OpenAPI documents (*.json) in DIR instead of the "
        "packaged ones (default: $LTXMOCK_SPEC_DIR if set)",
    )
    parser.set_defaults(func=run_lint)


def run_lint(args: argparse.Namespace) -> int:
    """Run ``ltxmock lint`` for parsed ``args``; the exit status."""
    if STDIN in (args.paths or [STDIN]) and sys.stdin is not None and sys.stdin.isatty():
        print("ltxmock lint: reading standard input (end it with Ctrl-D)", file=sys.stderr)
    try:
        report = lint_paths(args.paths, spec_dir=args.spec_dir)
    except SpecError as exc:
        print(f"ltxmock lint: error: {exc}", file=sys.stderr)
        return 2
    # In text, files that could not be linted go to stderr only; the machine formats
    # carry them too, so a CI annotation or a JSON consumer sees every failure.
    shown = (
        [p for p in report.problems if not p.fatal] if args.format == "text" else report.problems
    )
    try:
        sys.stdout.write(FORMATS[args.format](shown))
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into head: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.stderr.write(format_text(report.fatal))
    print(report.summary(), file=sys.stderr)
    return report.exit_code
