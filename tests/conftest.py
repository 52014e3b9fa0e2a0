"""Shared pytest configuration: Hypothesis profiles.

``HYPOTHESIS_PROFILE`` picks one: ``dev`` (the default, quick, remembers failing
examples in .hypothesis/) or ``ci`` (more examples, derandomized so every CI run
tests the same inputs, no deadline because shared runners stall).
"""

from __future__ import annotations

import importlib
import os

from hypothesis import settings

settings.register_profile("dev", max_examples=100)
settings.register_profile("ci", max_examples=200, derandomize=True, deadline=None, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

# pytest rewrites the asserts of every module of a package with a pytest11 entry
# point, ltxmock included; on CPython 3.11 two threads compiling at once can fail
# with "SystemError: AST constructor recursion depth mismatch". The server imports
# these on first use, on its own threads: import them here, once, on this one.
for lazily_imported in ("ltxmock.validators.explain", "ltxmock.media"):
    importlib.import_module(lazily_imported)
