"""The validation layer of ltxmock, installed as ``ltxmock.validators``."""

from .documents import ModelDocument, SpecError, load_documents, parse_document
from .errors import PayloadError
from .request import RequestValidator, TaskSchema, default_validator, reset_default_validator

__all__ = [
    "ModelDocument",
    "PayloadError",
    "RequestValidator",
    "SpecError",
    "TaskSchema",
    "default_validator",
    "load_documents",
    "parse_document",
    "reset_default_validator",
]
