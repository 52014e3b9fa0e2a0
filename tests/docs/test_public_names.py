"""Every public name is documented: named as code (a ``span`` or a fenced block) in
README.md or a page of docs/, which GitHub renders.

The names come from the code, not from a list kept here: each ``__all__`` below, the
top-level names of ``ltxmock.testing`` and ``ltxmock.matchers`` (which have no
``__all__``), the public members of ``ltxmock.testing``'s classes, the pytest
plugin's fixtures, markers and options, and every ``MockConfig`` field (those must be
rows of the settings table of docs/testing.md). A name added to any of them without
a word in the docs fails here.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import re
from pathlib import Path
from typing import Any

import pytest

import ltxmock.pytest_plugin
import ltxmock.testing
from ltxmock.server import MockConfig

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
MODULES_WITH_ALL = (
    "ltxmock",
    "ltxmock.server",
    "ltxmock.network_guard",
    "ltxmock.transports",
    "ltxmock.strategies",
    "ltxmock.lint",
    "ltxmock.validators",
    "ltxmock.media",
)
MODULES_WITHOUT_ALL = ("ltxmock.testing", "ltxmock.matchers")
FENCE = re.compile(r"^ *```[^\n]*\n(.*?)^ *```", re.M | re.S)
SPAN = re.compile(r"(`+)(.+?)\1", re.S)


def code_of(markdown: str) -> str:
    """The code of a Markdown text: its fenced blocks and its code spans (a name in
    prose, or in a heading's plain words, does not count)."""
    fenced = FENCE.findall(markdown)
    prose = FENCE.sub("", markdown)
    return "\n".join([*fenced, *(span for _, span in SPAN.findall(prose))])


CODE = "\n".join(code_of(page.read_text()) for page in PAGES)


def named(name: str, code: str = CODE) -> bool:
    return re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", code) is not None


def top_level_names(module: str) -> list[str]:
    """The public classes, functions and constants a module defines (not imports)."""
    source = inspect.getsource(importlib.import_module(module))
    names = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    return [n for n in names if not n.startswith("_")]


def class_members_of_testing() -> list[str]:
    """``Class.member`` for the public members of ``ltxmock.testing``'s public classes."""
    members = []
    for name in top_level_names("ltxmock.testing"):
        cls = getattr(ltxmock.testing, name)
        if inspect.isclass(cls):
            members += [f"{name}.{m}" for m in vars(cls) if not m.startswith("_")]
    return members


def plugin_fixtures() -> list[str]:
    tree = ast.parse(inspect.getsource(ltxmock.pytest_plugin))
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and not node.name.startswith("_")
        and any("fixture" in ast.unparse(d) for d in node.decorator_list)
    ]


class _Options:
    """Records what ``pytest_addoption`` declares (ini names and command-line flags)."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def addini(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.names.append(name)

    def getgroup(self, *args: Any, **kwargs: Any) -> _Options:
        return self

    def addoption(self, *flags: str, **kwargs: Any) -> None:
        self.names += flags


def plugin_options() -> list[str]:
    options = _Options()
    ltxmock.pytest_plugin.pytest_addoption(options)  # type: ignore[arg-type]
    return options.names


PUBLIC: list[str] = [
    *(
        f"{module}.{name}"
        for module in MODULES_WITH_ALL
        for name in importlib.import_module(module).__all__
    ),
    *(f"{module}.{name}" for module in MODULES_WITHOUT_ALL for name in top_level_names(module)),
    *(f"ltxmock.testing.{member}" for member in class_members_of_testing()),
    *(f"fixture {name}" for name in plugin_fixtures()),
    *(f"option {name}" for name in plugin_options()),
]


@pytest.mark.parametrize("qualified", PUBLIC)
def test_every_public_name_is_named_in_the_docs(qualified: str) -> None:
    name = re.split(r"[. ]", qualified)[-1]
    assert named(name), f"{qualified} is named in no code of README.md or docs/*.md"


def test_the_names_come_from_the_code() -> None:
    # What the audit of issue 14 found undocumented is among what is checked, and the
    # collection is not silently empty for a module.
    for qualified in (
        "ltxmock.PayloadError",
        "ltxmock.RequestValidator",
        "ltxmock.__version__",
        "ltxmock.server.FaultBook",
        "ltxmock.server.create_service",
        "ltxmock.network_guard.MAX_KEPT",
        "ltxmock.testing.INSUFFICIENT_CREDITS",
        "ltxmock.testing.MockServer.respond_with",
        "fixture ltxmock_session",
        "option --ltxmock-loopback-only",
    ):
        assert qualified in PUBLIC
    assert not any(name.startswith("ltxmock.testing.dataclasses") for name in PUBLIC)


def test_every_marker_of_the_plugin_is_named_in_the_docs(pytestconfig: pytest.Config) -> None:
    lines = [line for line in pytestconfig.getini("markers") if line.startswith("ltxmock")]
    markers = [re.match(r"[\w]+", line).group(0) for line in lines]  # type: ignore[union-attr]
    assert sorted(markers) == ["ltxmock", "ltxmock_allow_network"]
    for marker in markers:
        assert named(f"pytest.mark.{marker}"), marker


def settings_table() -> str:
    """The rows of docs/testing.md's ``MockConfig`` table: its first column."""
    text = (REPO / "docs" / "testing.md").read_text()
    section = text.split("## Settings: `MockConfig`", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return "\n".join(row.split(" | ")[0] for row in rows)


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(MockConfig)])
def test_every_mockconfig_field_is_a_row_of_the_settings_table(field: str) -> None:
    assert named(field, code_of(settings_table())), (
        f"MockConfig.{field} has no row in docs/testing.md's settings table"
    )


def test_code_of_ignores_prose() -> None:
    assert code_of("FaultBook here\n`Reply` and ``x `y` z``\n```py\nStoreError\n```\n") == (
        "StoreError\n\nReply\nx `y` z"
    )
