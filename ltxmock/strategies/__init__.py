"""Hypothesis strategies compiled from the OpenAPI documents the validator loads.

Nothing here lists a model's parameters or values: every strategy is built by
walking the JSON Schema of a task (``RequestValidator`` routes each task type
and model to one), so a second model document yields strategies for its tasks
with no code change. The walk supports the subset of JSON Schema the Runware
documents use: ``$ref`` (local), ``type``, ``const``, ``enum``, numeric bounds,
string lengths, ``pattern`` (ECMA-262 meaning), ``format`` uuid/uri,
``properties``/``required``/``additionalProperties``, ``items`` with
``minItems``/``maxItems``, ``anyOf``/``oneOf`` (lists of consts, alternative
value shapes, and "combination tables" of objects pinning several properties),
``allOf`` with ``dependentRequired``, and ``default``.

Public strategies::

    valid_tasks()          one task the validator accepts (a model task)
    utility_tasks()        a valid getResponse / ping task
    authentication_tasks() a valid leading authentication element
    valid_requests()       a whole valid request body (list of tasks)
    submittable_tasks()    a valid model task with a fresh taskUUID: safe to send as it is
    submittable_requests() a body of submittable tasks (no utility task, no authentication)
    invalid_tasks()        InvalidTask: a task breaking exactly one schema rule
    breakable_rules()      the (rule, parameter) pairs invalid_tasks() can break
    invalid_requests()     InvalidRequest: a body breaking one request-level rule
    boundary_tasks()       a task with one value near its schema's edge (either side)
    tasks_with_arbitrary_values()  a task with arbitrary JSON under one known key
    json_values()          arbitrary JSON

Every function takes ``validator`` (default: the packaged validator) and, where
it makes sense, ``model`` (an AIR id; default: every model the validator knows).
Every URL they generate names a reserved host (``example.com``, ``.invalid``,
``.test``, ...: ``hosts``), so a generated task sent to the mock contacts nobody;
``unsafe_urls(value)`` lists any other. Examples print as the JSON they are.

Layout: ``valid``, ``invalid`` and ``edges`` hold the public strategies, built
from one ``plans.Plan`` per task schema; a plan draws on ``SchemaCompiler``
(``compiler``), which reads a schema (``schema``, ``reader``), builds its valid
values (``values``), values near its edges (``near``) and one-rule mutations
(``breaking``, ``value_rules``, ``object_rules``); ``text`` and ``jsonvalues``
hold the strings and JSON values they are made of.
"""

from __future__ import annotations

from .compiler import SchemaCompiler
from .edges import boundary_tasks, tasks_with_arbitrary_values
from .hosts import is_safe_host, reserved_hosts, unsafe_urls
from .invalid import breakable_rules, invalid_requests, invalid_tasks
from .jsonvalues import JSON as JSON
from .jsonvalues import Broken as Broken
from .jsonvalues import Path as Path
from .jsonvalues import Task as Task
from .jsonvalues import json_equal, json_values
from .jsonvalues import json_scalars as json_scalars
from .labels import InvalidRequest, InvalidTask, parameter_name
from .plans import AUTHENTICATION as AUTHENTICATION
from .text import uri_near_misses, uri_strings, uuid_near_misses, uuid_strings
from .valid import (
    authentication_tasks,
    submittable_requests,
    submittable_tasks,
    utility_tasks,
    valid_requests,
    valid_tasks,
)

__all__ = [
    "InvalidRequest",
    "InvalidTask",
    "SchemaCompiler",
    "authentication_tasks",
    "boundary_tasks",
    "breakable_rules",
    "invalid_requests",
    "invalid_tasks",
    "is_safe_host",
    "json_equal",
    "json_values",
    "parameter_name",
    "reserved_hosts",
    "submittable_requests",
    "submittable_tasks",
    "tasks_with_arbitrary_values",
    "unsafe_urls",
    "uri_near_misses",
    "uri_strings",
    "utility_tasks",
    "uuid_near_misses",
    "uuid_strings",
    "valid_requests",
    "valid_tasks",
]
