"""What the optional ``server`` extra installs, and which of it is missing.

``pip install ltxmock`` is the linter (``ltxmock.validate``/``is_valid``,
``ltxmock lint``, ``ltxmock.strategies``); ``ltxmock serve`` and the pytest
fixture need ``pip install 'ltxmock[server]'``. This module is standard library
only and imports nothing it checks: asking does not load Flask or NumPy.
"""

from __future__ import annotations

import importlib.util
import sys

SERVER_EXTRA = "server"

# The server extra of pyproject.toml, distribution name -> top-level import name,
# in the order pyproject lists them (tests/test_packaging.py checks they agree).
SERVER_PACKAGES: dict[str, str] = {
    "openapi-core": "openapi_core",
    "flask": "flask",
    "flask-sock": "flask_sock",
    "gunicorn": "gunicorn",
    "uvicorn": "uvicorn",
    "uvicorn-worker": "uvicorn_worker",
    "httptools": "httptools",
    "uvloop": "uvloop",
    "websockets": "websockets",
    "a2wsgi": "a2wsgi",
    "orjson": "orjson",
    "av": "av",
    "pillow": "PIL",
    "numpy": "numpy",
    "aiohttp": "aiohttp",
}

# Distributions the extra installs on some platforms only (pyproject's markers).
_PLATFORM_ONLY: dict[str, bool] = {"uvloop": sys.platform != "win32"}


def _importable(module: str) -> bool:
    # find_spec on a top-level name finds without importing (and answers from
    # sys.modules for a module already loaded).
    try:
        return importlib.util.find_spec(module) is not None
    except ValueError:  # loaded, but with no __spec__ (set up by hand): it is there
        return True


def missing_server_packages() -> list[str]:
    """Distribution names of the server extra that cannot be imported here, in pyproject order."""
    return [
        dist
        for dist, module in SERVER_PACKAGES.items()
        if _PLATFORM_ONLY.get(dist, True) and not _importable(module)
    ]


def server_extra_hint() -> str | None:
    """One line saying what to install for ``ltxmock serve``; None when nothing is missing."""
    missing = missing_server_packages()
    if not missing:
        return None
    return (
        f"ltxmock serve needs the {SERVER_EXTRA} extra: "
        f"pip install 'ltxmock[{SERVER_EXTRA}]' (missing: {', '.join(missing)})"
    )
