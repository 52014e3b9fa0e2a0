"""``ltxmock lint`` as a pre-commit hook: the repository's hook definition, and the
configurations the README and docs/testing.md tell users to paste, select ``.json``
and ``.jsonl`` files (nothing else) and run a command that lints them.

pre-commit itself is not needed: it selects the staged files whose path the
``files`` regex finds (``re.search``) and that are text, then runs the ``entry``
split as a shell would, with those paths appended (``language: system``: from the
``PATH``). The tests do the same.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.server import video_task

yaml = pytest.importorskip("yaml")

REPO = Path(__file__).resolve().parents[2]
HOOK_ID = "ltxmock-lint"
DOCS_WITH_A_LOCAL_HOOK = ("README.md", "docs/testing.md")


def hook_definition() -> dict[str, Any]:
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == HOOK_ID
    return dict(hook)


def yaml_blocks(path: str) -> list[Any]:
    """Every fenced ```yaml block of a Markdown file, parsed (indented ones too)."""
    text = (REPO / path).read_text()
    blocks = re.findall(r"^( *)```yaml\n(.*?)^\1```", text, flags=re.M | re.S)
    parsed = []
    for indent, body in blocks:
        lines = [line.removeprefix(indent) for line in body.splitlines()]
        parsed.append(yaml.safe_load("\n".join(lines)))
    return parsed


def configured_hooks(path: str, repo: str) -> list[dict[str, Any]]:
    """The ltxmock-lint hooks of the pasteable configs in ``path`` whose ``repo`` is
    ``repo`` ("local") or, for any other value, a remote one."""
    found = []
    for block in yaml_blocks(path):
        if not isinstance(block, dict):
            continue
        for entry in block.get("repos", []):
            if (entry["repo"] == "local") == (repo == "local"):
                found += [hook for hook in entry["hooks"] if hook["id"] == HOOK_ID]
    return found


def selected(pattern: str, paths: list[str]) -> list[str]:
    return [path for path in paths if re.search(pattern, path)]


def test_the_hook_runs_ltxmock_lint_on_json_and_jsonl_files() -> None:
    hook = hook_definition()
    assert hook["entry"] == "ltxmock lint"
    assert hook["types"] == ["text"]
    paths = ["a.json", "dir/b.jsonl", "c.yaml", "d.yml", "e.json.bak", "f.jsonc", "g.jsonlines"]
    assert selected(hook["files"], paths) == ["a.json", "dir/b.jsonl"]


@given(
    stem=st.text(st.characters(blacklist_characters="\n\r"), min_size=1, max_size=20),
    extension=st.sampled_from(["json", "jsonl", "yaml", "yml", "txt", "js", "jsonc", "JSON"])
    | st.text("jsonlyamx", max_size=6),
)
def test_the_hook_selects_a_path_by_its_extension_alone(stem: str, extension: str) -> None:
    pattern = hook_definition()["files"]
    path = f"{stem}.{extension}"
    assert bool(re.search(pattern, path)) is (extension in ("json", "jsonl"))


@pytest.mark.parametrize("doc", DOCS_WITH_A_LOCAL_HOOK)
def test_the_documented_local_hook_is_the_repositorys_hook_run_from_the_path(doc: str) -> None:
    (hook,) = configured_hooks(doc, "local")
    definition = hook_definition()
    assert hook["language"] == "system"  # the installed ltxmock: no rev, no build
    assert hook["entry"] == definition["entry"]
    assert hook["files"] == definition["files"]
    assert hook.get("types") == definition["types"]


def test_the_documented_remote_hook_keeps_both_extensions() -> None:
    (hook,) = configured_hooks("docs/testing.md", "remote")
    paths = ["payloads/a.json", "payloads/x/b.jsonl", "payloads/c.yaml", "other/d.json"]
    assert selected(hook["files"], paths) == ["payloads/a.json", "payloads/x/b.jsonl"]


def test_the_docs_say_there_is_no_release_tag_yet() -> None:
    for doc in DOCS_WITH_A_LOCAL_HOOK:
        assert "no release tag yet" in (REPO / doc).read_text(), doc


def test_the_entry_lints_what_the_hook_selects(tmp_path: Path) -> None:
    (tmp_path / "good.json").write_text(json.dumps([video_task()]))
    lines = [json.dumps([video_task()]), json.dumps([video_task(duration=7)])]
    (tmp_path / "bad.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "notes.yaml").write_text("not: [json\n")  # lint would refuse it (exit 2)
    hook = hook_definition()
    staged = selected(hook["files"], sorted(p.name for p in tmp_path.iterdir()))
    assert staged == ["bad.jsonl", "good.json"]
    bin_dir = Path(sys.executable).parent  # where the ltxmock script is installed
    if not (bin_dir / "ltxmock").exists():
        pytest.skip("no ltxmock console script beside this Python")
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        [*shlex.split(hook["entry"]), *staged],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr  # a problem found
    assert re.search(r"^bad\.jsonl:2:\d+: unsupportedDuration duration", done.stdout, re.M)
    assert "good.json:" not in done.stdout
    assert "1 problem in 1 of 2 files" in done.stderr  # both files were read
