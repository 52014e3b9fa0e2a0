"""Shared pytest configuration: Hypothesis profiles.

``HYPOTHESIS_PROFILE`` picks one: ``dev`` (the default, quick, remembers failing
examples in .hypothesis/) or ``ci`` (more examples, derandomized so every CI run
tests the same inputs, no deadline because shared runners stall).
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("dev", max_examples=100)
settings.register_profile("ci", max_examples=200, derandomize=True, deadline=None, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
