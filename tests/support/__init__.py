"""Helpers the tests import by name (``from support.server import video_task``).

``tests`` is on pytest's ``pythonpath`` (pyproject.toml), so this package imports
the same from every test folder. Fixtures live in conftest files, not here.
"""
