"""ltxmock: lint Runware LTX-2 Fast payloads, and mock the API locally."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any


def _map_checkout_validators() -> None:
    """Import ``ltxmock.validators`` from ``../validators`` when running from a checkout.

    Installed, the validation layer is the subpackage ``ltxmock/validators`` (a
    package-dir mapping: the top-level name ``validators`` belongs to a PyPI
    package). In a source checkout it sits beside this package instead, and
    ``python -c``/``python -m`` from the repository root import this folder;
    mapping the name here keeps that working.
    """
    here = Path(__file__).resolve().parent
    checkout = here.parent / "validators"
    if (here / "validators").is_dir() or not (checkout / "__init__.py").is_file():
        return
    spec = importlib.util.spec_from_file_location(
        "ltxmock.validators",
        checkout / "__init__.py",
        submodule_search_locations=[str(checkout)],
    )
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules["ltxmock.validators"] = module
    spec.loader.exec_module(module)
    globals()["validators"] = module  # what the import system does for a subpackage


if "ltxmock.validators" not in sys.modules:
    _map_checkout_validators()

from ltxmock.validators import PayloadError, RequestValidator, default_validator  # noqa: E402

__version__ = "0.1.0"
__all__ = ["PayloadError", "RequestValidator", "__version__", "is_valid", "validate"]


def validate(body: Any) -> list[PayloadError]:
    """Every problem in a ``POST /v1`` request body; an empty list when it is valid."""
    return default_validator().validate(body)


def is_valid(body: Any) -> bool:
    """True when ``body`` would be accepted (a fast compiled check, no explanation)."""
    return default_validator().is_valid(body)
