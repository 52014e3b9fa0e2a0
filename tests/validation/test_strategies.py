"""The strategies of ``ltxmock.strategies``: compiled from the documents, labelled truthfully.

These tests check the generators themselves (what they build, how they label
it); ``test_validation_properties.py`` uses them to test the validator.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from random import Random
from typing import Any

import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st
from jsonschema import ValidationError
from ltxmock.validators import (
    RequestValidator,
    TaskSchema,
    default_validator,
    documents,
    load_documents,
    parse_document,
)

import ltxmock
from ltxmock import strategies as S  # noqa: N812
from ltxmock.strategies.hosts import urls_in

DATA = Path(__file__).parent / "data"
SPEC = Path(documents.__file__).resolve().parent.parent / "spec"  # not LTXMOCK_SPEC_DIR
LTX = "lightricks:2@1"
ACME = "acme:1@1"
ACME_DOC = DATA / "acme-image-1.openapi.json"
TWO_MODELS = RequestValidator(
    [*load_documents(SPEC), parse_document(json.loads(ACME_DOC.read_text()), str(ACME_DOC))]
)

# ``find`` runs outside ``@given``: keep it deterministic.
FIND = settings(database=None, max_examples=500)


def sample(strategy: st.SearchStrategy[Any], n: int = 100) -> list[Any]:
    """``n`` examples of ``strategy`` from a derandomized run (no shrinking): for coverage."""
    out: list[Any] = []

    @settings(
        max_examples=n, database=None, derandomize=True, deadline=None, phases=[Phase.generate]
    )
    @given(strategy)
    def collect(example: Any) -> None:
        out.append(example)

    collect()
    return out


def target_for(validator: RequestValidator, air_id: str) -> TaskSchema:
    doc = validator.document(air_id)
    assert doc is not None
    target = validator.route({"taskType": doc.task_type, "model": air_id}, 1)
    assert isinstance(target, TaskSchema)
    return target


def model_parameters(validator: RequestValidator, air_id: str) -> list[str]:
    doc = validator.document(air_id)
    assert doc is not None
    return doc.parameters


@pytest.fixture(autouse=True, scope="module")
def _warm() -> None:
    """Build the validator's lazily built engines before any example runs, so no first
    example pays for them and trips the dev profile's 200 ms deadline."""
    for validator in (default_validator(), TWO_MODELS):
        validator.warm_up()


# -- valid_tasks ---------------------------------------------------------------------
def test_optional_parameters_are_sometimes_present_and_sometimes_absent() -> None:
    doc = default_validator().document(LTX)
    assert doc is not None
    required = set(doc.item_schema["required"])
    tasks = sample(S.valid_tasks(), 150)
    for parameter in doc.parameters:
        present = sum(parameter in t for t in tasks)
        assert present, parameter
        # width/height are optional in the document, yet every valid task has one row
        # of the width/height table: with neither, every row matches and oneOf fails.
        if parameter not in required | {"width", "height"}:
            assert present < len(tasks), parameter


def test_valid_tasks_follow_the_document_not_a_hand_written_list() -> None:
    document = copy.deepcopy(dict(default_validator().documents[0].document))
    item = document["components"]["schemas"]["RequestBody"]["items"]
    item["properties"]["duration"]["enum"] = [5, 7]
    item["properties"]["duration"].pop("default")
    item["allOf"][1]["oneOf"] = item["allOf"][1]["oneOf"][:1]  # only 1920x1080
    edited = RequestValidator([parse_document(document)])
    durations: set[Any] = set()
    sizes: set[tuple[Any, Any]] = set()

    @settings(max_examples=60, database=None)
    @given(S.valid_tasks(edited))
    def collect(task: dict[str, Any]) -> None:
        assert edited.validate([task]) == []
        if "duration" in task:
            durations.add(task["duration"])
        sizes.add((task["width"], task["height"]))

    collect()
    assert durations <= {5, 7}
    assert sizes == {(1920, 1080)}


# -- valid_requests ------------------------------------------------------------------
@given(S.valid_requests(min_tasks=1, max_tasks=4))
def test_valid_requests_have_unique_uuids_and_authentication_only_first(
    body: list[dict[str, Any]],
) -> None:
    tasks = [t for t in body if t["taskType"] != "authentication"]
    assert 1 <= len(tasks) <= 4
    assert all(t["taskType"] != "authentication" for t in body[1:])
    uuids = [t["taskUUID"].lower() for t in tasks if "taskUUID" in t]
    assert len(uuids) == len(set(uuids))


@given(
    st.one_of(
        st.tuples(st.just(True), S.valid_requests(with_authentication=True)),
        st.tuples(st.just(False), S.valid_requests(with_authentication=False)),
    )
)
def test_with_authentication_is_honoured(drawn: tuple[bool, list[dict[str, Any]]]) -> None:
    wanted, body = drawn
    assert (body[0]["taskType"] == "authentication") is wanted
    if wanted:
        assert isinstance(body[0]["apiKey"], str)


def test_valid_requests_mix_in_utility_tasks() -> None:
    seen = {t["taskType"] for body in sample(S.valid_requests()) for t in body}
    assert seen == set(default_validator().task_types)  # authentication, models, utilities


# -- invalid_tasks: the label is the truth ------------------------------------------------
Path_ = tuple[str | int, ...]


def blamed(error: ValidationError) -> set[Path_]:
    """The instance locations an error holds responsible (keys for key-level keywords)."""
    path: Path_ = tuple(error.absolute_path)
    instance: Any = error.instance
    kind: Any = error.validator
    value: Any = error.validator_value
    schema: Any = error.schema
    if kind == "required" and isinstance(instance, dict):
        return {(*path, k) for k in value if k not in instance}
    if kind == "dependentRequired" and isinstance(instance, dict):
        return {
            (*path, need)
            for trigger, needs in value.items()
            if trigger in instance
            for need in needs
            if need not in instance
        }
    if kind == "additionalProperties" and isinstance(instance, dict):
        known = schema.get("properties", {})
        return {(*path, k) for k in instance if k not in known}
    if kind in ("oneOf", "anyOf"):
        if error.context:
            return set().union(*(blamed(inner) for inner in error.context))
        # oneOf matched several branches: blame what the branches constrain
        keys = {k for b in value for k in b.get("properties", {})}
        return {(*path, k) for k in keys} or {path}
    return {path}


def flattened(errors: list[ValidationError]) -> Iterator[ValidationError]:
    for error in errors:
        yield error
        yield from flattened(list(error.context or ()))


@given(S.invalid_tasks())
def test_invalid_task_breaks_exactly_its_labelled_rule(bad: S.InvalidTask) -> None:
    target = target_for(default_validator(), LTX)
    errors = list(target.detailed.iter_errors(bad.task))
    assert errors, "the payload must really be invalid"
    assert bad.parameter == S.parameter_name(bad.path)
    # the labelled rule fails, and it is about the labelled location
    assert any(e.validator == bad.rule and bad.path in blamed(e) for e in flattened(errors)), [
        (e.validator, blamed(e)) for e in flattened(errors)
    ]
    # nothing else is wrong: every error is about the labelled location or below it
    for error in errors:
        assert any(p[: len(bad.path)] == bad.path for p in blamed(error)), (
            error.validator,
            blamed(error),
        )


DOCUMENT_RULES = [
    "type",
    "enum",
    "const",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "format",
    "required",
    "additionalProperties",
    "dependentRequired",
    "oneOf",
    "anyOf",
]


def test_every_rule_of_the_document_can_be_broken() -> None:
    assert {rule for rule, _ in S.breakable_rules()} == set(DOCUMENT_RULES)


def test_the_catalogue_names_parameters_like_the_validator() -> None:
    catalogue = set(S.breakable_rules())
    assert {
        ("dependentRequired", "height"),  # width without height
        ("dependentRequired", "width"),
        ("oneOf", "height"),  # 1920 with 1440: each allowed, the pair in no row
        ("oneOf", "width"),  # a width in no row, or neither width nor height
        ("oneOf", "inputs.frameImages[0].frame"),
        ("anyOf", "inputs.frameImages[0]"),
        ("anyOf", "inputs.frameImages[0].image"),
        ("type", "providerSettings.lightricks.generateAudio"),
        ("required", "inputs.frameImages[0].image"),
        ("const", "taskType"),
        ("format", "taskUUID"),
        ("enum", "duration"),
    } <= catalogue
    unknown_keys = {p for rule, p in catalogue if rule == "additionalProperties"}
    assert unknown_keys == {  # every closed object, nested ones too
        "*",
        "inputs.*",
        "inputs.frameImages[0].*",
        "providerSettings.*",
        "providerSettings.lightricks.*",
        "safety.*",
    }


def test_every_entry_of_the_catalogue_is_generated_as_labelled() -> None:
    for rule, parameter in S.breakable_rules():
        strategy = S.invalid_tasks(rules={rule}, parameters={parameter})
        for bad in sample(strategy, 4):
            assert bad.rule == rule
            if parameter.endswith("*"):
                assert bad.parameter.startswith(parameter[:-1])
            else:
                assert bad.parameter == parameter
            assert bad.parameter in {e.parameter for e in ltxmock.validate([bad.task])}


def test_rules_the_document_does_not_use_are_refused() -> None:
    with pytest.raises(ValueError, match="no rule"):
        S.invalid_tasks(rules={"multipleOf"})
    with pytest.raises(ValueError, match="no rule"):
        S.invalid_tasks(rules={"enum"}, parameters={"positivePrompt"})


def test_shrunk_examples_stay_as_labelled() -> None:
    # ``find`` shrinks to a minimal example; shrinking must not slip out of the label.
    smallest = find(
        S.invalid_tasks(rules={"dependentRequired"}),
        lambda bad: True,
        settings=FIND,
        random=Random(1),
    )
    doc = default_validator().document(LTX)
    assert doc is not None
    # shrunk all the way: the required parameters plus the one half of width/height
    assert len(smallest.task) == len(doc.item_schema["required"]) + 1
    errors = ltxmock.validate([smallest.task])
    assert [e.parameter for e in errors] == [smallest.parameter]
    assert smallest.parameter not in smallest.task  # the missing half is what is blamed


# -- invalid_requests ------------------------------------------------------------------------
REQUEST_RULES = {
    "notArray",
    "emptyArray",
    "notObject",
    "authenticationNotFirst",
    "conflictTaskUUID",
    "unsupportedTaskType",
}


def test_every_request_rule_is_generated() -> None:
    examples = sample(S.invalid_requests(), 60)
    assert {bad.rule for bad in examples} == REQUEST_RULES
    for bad in examples:  # the body's tasks are fine on their own (but for one element)
        tasks = [t for t in bad.body if isinstance(t, dict)] if isinstance(bad.body, list) else []
        if bad.rule == "conflictTaskUUID":
            assert all(ltxmock.validate([t]) == [] for t in tasks)


# -- boundary and arbitrary values, json_values ------------------------------------------------
@given(S.boundary_tasks(keywords={"format", "pattern"}))
def test_boundary_tasks_can_target_format_and_pattern_locations(task: dict[str, Any]) -> None:
    assert {e.keyword for e in ltxmock.validate([task])} <= {"format", "pattern", "anyOf"}


@given(S.boundary_tasks(keywords={"enum", "const"}))
def test_boundary_tasks_can_target_enum_and_const_locations(task: dict[str, Any]) -> None:
    # other spellings of allowed values: 6.0 for 6 (fine), true for 1 or "6" (wrong type)
    keywords = {e.keyword for e in ltxmock.validate([task])}
    assert keywords <= {"enum", "const", "oneOf", "type", None}  # None: routing (taskType)


def test_boundary_tasks_reach_both_sides_of_the_edge() -> None:
    for keywords in ({"format", "pattern"}, {"enum", "const"}):
        verdicts = {ltxmock.is_valid([t]) for t in sample(S.boundary_tasks(keywords=keywords))}
        assert verdicts == {True, False}, keywords


def test_boundary_tasks_reject_keywords_the_document_does_not_use() -> None:
    with pytest.raises(ValueError, match="no location"):
        S.boundary_tasks(keywords={"multipleOf"})


@given(S.json_values())
def test_json_values_round_trip_through_json(value: Any) -> None:
    assert json.loads(json.dumps(value)) == value


# -- several models ------------------------------------------------------------------------------
def test_strategies_generate_tasks_for_every_model() -> None:
    tasks = sample(S.valid_tasks(TWO_MODELS))
    assert {t["model"] for t in tasks} == {LTX, ACME}
    for task in tasks:
        assert TWO_MODELS.validate([task]) == []
    broken = sample(S.invalid_tasks(TWO_MODELS))
    assert {b.task.get("model") for b in broken} >= {LTX, ACME}
    for bad in broken:
        assert bad.parameter in {e.parameter for e in TWO_MODELS.validate([bad.task])}


def test_the_second_document_brings_its_own_rules() -> None:
    catalogue = set(S.breakable_rules(TWO_MODELS, ACME))
    assert {
        ("pattern", "style"),
        ("exclusiveMinimum", "CFGScale"),
        ("oneOf", "scheduler"),
        ("maximum", "steps"),
    } <= catalogue
    assert not any(p.startswith(("inputs", "providerSettings")) for _, p in catalogue)
    strategy = S.invalid_tasks(TWO_MODELS, ACME, rules={"pattern", "exclusiveMinimum"})
    for bad in sample(strategy, 20):
        assert bad.parameter in {"style", "CFGScale"}
        assert bad.parameter in {e.parameter for e in TWO_MODELS.validate([bad.task])}


@given(S.valid_tasks(TWO_MODELS, model=ACME), S.invalid_tasks(TWO_MODELS, model=ACME))
def test_model_argument_picks_one_document(task: dict[str, Any], bad: S.InvalidTask) -> None:
    assert task["model"] == ACME
    assert set(task) <= set(model_parameters(TWO_MODELS, ACME))
    assert bad.path[0] in model_parameters(TWO_MODELS, ACME) or bad.rule == "additionalProperties"


def test_unknown_model_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown model"):
        S.valid_tasks(TWO_MODELS, model="nobody:0@0")


@given(S.valid_requests(max_tasks=4, validator=TWO_MODELS))
def test_two_model_requests_validate(body: list[dict[str, Any]]) -> None:
    assert TWO_MODELS.validate(body) == []


# -- the package's public names and SchemaCompiler on its own -------------------------------------
PUBLIC = {  # importable from ltxmock.strategies, whatever module defines them
    *S.__all__,
    "AUTHENTICATION",
    "JSON",
    "Path",
    "Task",
    "Broken",
    "json_scalars",
}


def test_the_public_names_import_from_the_package() -> None:
    assert set(S.__all__) == {
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
    }
    assert all(hasattr(S, name) for name in PUBLIC)


STANDALONE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "a": {"type": "integer", "minimum": 1},
        "b": {"type": "string", "maxLength": 4},
        "c": {"enum": ["x", "y", 3]},
    },
    "required": ["a"],
    "additionalProperties": False,
    "dependentRequired": {"c": ["b"]},
    "allOf": [{"properties": {"a": {"maximum": 9}}}],
}


def test_schema_compiler_merges_allof_parts_of_a_standalone_schema() -> None:
    compiler = S.SchemaCompiler(STANDALONE)
    accepts = compiler.check(STANDALONE)
    values = sample(compiler.values(STANDALONE), 60)
    assert all(accepts(v) for v in values)
    assert {v["a"] for v in values} <= set(range(1, 10))  # the allOf part's maximum too
    assert any("c" in v for v in values)
    assert any("c" not in v for v in values)


def test_schema_compiler_mutations_break_one_rule_each() -> None:
    compiler = S.SchemaCompiler(STANDALONE)
    accepts = compiler.check(STANDALONE)
    mutations = compiler.mutations(compiler.flatten(STANDALONE))
    assert [(m.rule, m.where) for m in mutations] == [
        ("type", ()),
        ("required", ("a",)),
        ("additionalProperties", None),
        ("dependentRequired", ("b",)),
    ]
    for mutation in mutations:
        for value, where in sample(mutation.broken, 10):
            assert not accepts(value), mutation.rule
            if mutation.where is not None:
                assert where == mutation.where


def test_schema_compiler_refuses_what_it_cannot_generate() -> None:
    compiler = S.SchemaCompiler({})
    with pytest.raises(NotImplementedError, match="not supported"):
        compiler.flatten({"not": {"type": "string"}})
    with pytest.raises(NotImplementedError, match="unsatisfiable"):
        sample(compiler.values({"allOf": [{"const": 1}, {"const": 2}]}), 1)


# -- safe to submit (issue 14) ---------------------------------------------------------
# Names of ``S.__all__`` that are no strategy; every other one must be a function
# annotated to return a SearchStrategy, and is sampled below with no arguments.
NOT_STRATEGIES = {
    "InvalidRequest",
    "InvalidTask",
    "SchemaCompiler",
    "breakable_rules",
    "is_safe_host",
    "json_equal",
    "parameter_name",
    "unsafe_urls",
}
STRATEGY_FUNCTIONS: dict[str, Callable[[], st.SearchStrategy[Any]]] = {
    name: getattr(S, name) for name in S.__all__ if name not in NOT_STRATEGIES
}
# Arguments worth 300 examples of their own: URI values at their edges.
PUBLIC_STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    **{f"{name}()": make() for name, make in STRATEGY_FUNCTIONS.items()},
    "boundary_tasks(keywords={'format'})": S.boundary_tasks(keywords={"format"}),
    "valid_requests(with_authentication=True)": S.valid_requests(with_authentication=True),
}


def test_every_public_strategy_is_sampled() -> None:
    """A new public name is a strategy (sampled by the test below, with nothing to
    add) or one of NOT_STRATEGIES: it cannot be forgotten."""
    for name, make in STRATEGY_FUNCTIONS.items():
        assert inspect.isfunction(make), name
        assert "SearchStrategy" in str(inspect.signature(make).return_annotation), name
        assert isinstance(make(), st.SearchStrategy), name
    assert not NOT_STRATEGIES - set(S.__all__)  # no stale entry
    for name in NOT_STRATEGIES:
        returns = str(inspect.signature(getattr(S, name)).return_annotation)
        assert "SearchStrategy" not in returns, name
    # The four the audit found unsampled, among the rest.
    assert {"json_values", "reserved_hosts", "uuid_strings", "uuid_near_misses"} < set(
        STRATEGY_FUNCTIONS
    )


def scanned(example: Any) -> Any:
    """What to look for URLs in: a labelled example as its fields, a bare host as
    the URL it would be in (``reserved_hosts``)."""
    if dataclasses.is_dataclass(example) and not isinstance(example, type):
        return dataclasses.asdict(example)
    return example


@pytest.mark.parametrize("name", sorted(PUBLIC_STRATEGIES))
def test_300_examples_name_no_host_outside_loopback_and_reserved_names(name: str) -> None:
    examples = sample(PUBLIC_STRATEGIES[name], 300)
    if name == "reserved_hosts()":
        assert all(S.is_safe_host(host) for host in examples), examples
        examples = [f"https://{host}/hook" for host in examples]
    found = [url for example in examples for url in S.unsafe_urls(scanned(example))]
    assert found == [], f"{name} generated URLs on real hosts: {found[:5]}"


def test_unsafe_urls_looks_into_labelled_examples() -> None:
    # The scan above would be empty for an InvalidTask if it did not look inside.
    bad = S.InvalidTask(task={"webhookURL": "https://evil.net/x"}, rule="type", parameter="p")
    assert S.unsafe_urls(scanned(bad)) == ["https://evil.net"]
    assert S.unsafe_urls("https://n.eie.xp/hook") == ["https://n.eie.xp"]


def test_generated_urls_do_reach_webhook_and_upload_fields() -> None:
    # The check above means something only if URLs are generated at all.
    tasks = sample(S.valid_tasks(), 300)
    hosts = {host for task in tasks for _, host in urls_in(task)}
    assert any("webhookURL" in t for t in tasks)
    assert any("uploadEndpoint" in t for t in tasks)
    assert len(hosts) > 10
    assert all(S.is_safe_host(h) for h in hosts)


@pytest.mark.parametrize(
    ("host", "safe"),
    [
        ("example.com", True),
        ("a.b.example.org", True),
        ("X.INVALID.", True),
        ("k.test", True),
        ("api.localhost", True),
        ("127.0.0.2", True),
        ("[::1]", True),
        ("0", False),
        ("192.168.1.1", False),
        ("n.eie.xp", False),
        ("example.com.evil.net", False),
        ("notexample.com", False),
        ("test", False),
    ],
)
def test_safe_hosts(host: str, safe: bool) -> None:
    assert S.is_safe_host(host) is safe


def test_unsafe_urls_finds_hosts_behind_near_miss_spellings() -> None:
    body = [
        {"webhookURL": "1https://evil.net/x", "b": ["HTTPS:// Other.COM:8443/p"]},
        {"uploadEndpoint": "https://user@x.example.com@evil.org/"},
        {"ok": "https://a.example.com/hook?x=1", "image": "data:image/png;base64,AAAA"},
    ]
    assert sorted(S.unsafe_urls(body)) == sorted(
        ["https://evil.net", "HTTPS:// Other.COM:8443", "https://user@x.example.com@evil.org"]
    )


def test_submittable_tasks_are_valid_model_tasks_with_fresh_uuids() -> None:
    validator = default_validator()
    tasks = sample(S.submittable_tasks(), 200)
    assert all(validator.is_valid([t]) for t in tasks)
    assert {t["taskType"] for t in tasks} == {"videoInference"}
    assert len({t["taskUUID"] for t in tasks}) == len(tasks)
    bodies = sample(S.submittable_requests(), 100)
    assert all(validator.is_valid(b) for b in bodies)
    assert not any(
        t["taskType"] in ("getResponse", "ping", "authentication") for b in bodies for t in b
    )


PRINTED = """
from hypothesis import given, settings
from ltxmock import strategies as S

@settings(max_examples=5, database=None)
@given(a=S.invalid_tasks(), b=S.valid_requests(with_authentication=True), c=S.boundary_tasks(),
       d=S.invalid_requests(), e=S.submittable_tasks())
def test_show(a, b, c, d, e):
    assert False
"""


def test_failing_examples_print_as_the_json_they_are(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_printed=PRINTED)
    # schemathesis's pytest plugin (installed for tests/reliability) prints every
    # argument of a failing example as empty: a user's suite without it is the case.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:schemathesis", "-q")
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "Falsifying example" in text or "Failing test case" in text
    for call in ("functools.partial", "_assemble", "_label", "_with_auth", "_copy", "lambda"):
        assert call not in text, text
    result.stdout.fnmatch_lines(["*a=InvalidTask(task={'model': *", "*d=InvalidRequest(body=*"])
