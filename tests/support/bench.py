"""The benchmark scripts in bench/ as modules, for the tests that run them at CI size."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).parents[2] / "bench"


def load_bench(script: str) -> ModuleType:
    """``bench/<script>`` imported as ``<stem>_bench`` (it finds bench/_common.py itself)."""
    spec = importlib.util.spec_from_file_location(f"{Path(script).stem}_bench", BENCH / script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module
