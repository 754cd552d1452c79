"""Discovery of one small project per Terraform pattern, compared field by field with the
inventory that each fixture's expected.json states, written by hand from Terraform's semantics.

Each directory under tests/fixtures/discovery/ is a project root holding:

- fixture.json: the Terraform root module (`infra`) with the `var_files`, `variables` and
  `environ` that `terraform plan` would get, and a `description`. `oracle` is true when
  `terraform plan` can evaluate the fixture offline with only the hashicorp/aws provider.
  An optional `setup.copy` copies a committed directory into place before discovery,
  because git ignores `.terraform/` and a fetched module is committed under another name.
- expected.json: `functions` keyed by address, `routes` keyed by (api, method, path),
  `layers` keyed by address, and `problems` matched by file suffix, line and message
  substring (a list of substrings must all occur).

Function entries also check `runnable`, which is False for container-image functions. Their
`layers` lists the address of each layer in the configuration, or the ARN of a layer from
outside it. `Inventory.layers` items have `address`, `name` and `source`. An attribute that
devd's objects lack is reported as a mismatch, not raised.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import pytest

from devd.inventory import Inventory, Problem
from devd.terraform.discover import discover
from devd.terraform.loader import TerraformOptions

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures" / "discovery"
FIXTURE_NAMES = sorted(path.parent.name for path in FIXTURES.glob("*/fixture.json"))

MISSING = object()
"""The value of an attribute that devd's object does not have."""

# Fields of expected.json entries, each read from the devd attribute of the same name.
FUNCTION_FIELDS = ("name", "runtime", "handler", "source", "environment", "timeout", "memory", "architectures",
                   "runnable", "layers")
ROUTE_FIELDS = ("api", "method", "path", "payload_version", "function")
LAYER_FIELDS = ("address", "name", "source")

# Providers and module sources that `terraform plan` cannot use offline with only hashicorp/aws.
NON_ORACLE_MARKERS = ('data "archive_file"', "hashicorp/archive", "hashicorp/random", "hashicorp/null")
MODULE_SOURCE = re.compile(r'module\s+"[^"]+"\s*\{[^}]*?\bsource\s*=\s*"([^"]+)"', re.DOTALL)


@dataclass(frozen=True)
class Discovered:
    """One fixture's configuration, its expected inventory, and what discovery returned."""

    name: str
    config: dict[str, Any]
    expected: dict[str, Any]
    inventory: Inventory


def _load(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    directory = FIXTURES / name
    config = json.loads((directory / "fixture.json").read_text())
    expected = json.loads((directory / "expected.json").read_text())
    return config, expected


def _discover(name: str, tmp_path_factory: pytest.TempPathFactory) -> Discovered:
    config, expected = _load(name)
    root = FIXTURES / name
    copy = config.get("setup", {}).get("copy")
    if copy:
        root = tmp_path_factory.mktemp(name) / name
        shutil.copytree(FIXTURES / name, root)
        shutil.copytree(root / copy["modules_dir"], root / copy["to"])

    options = TerraformOptions(
        root / config["infra"],
        tuple(root / path for path in config["var_files"]),
        tuple((key, str(value)) for key, value in config["variables"].items()),
        dict(config["environ"]),
    )
    return Discovered(name, config, expected, discover(options, root))


@pytest.fixture(scope="module")
def discovered(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Discovered]:
    """Return a lookup that runs discovery once per fixture for all tests of this module."""
    cache: dict[str, Discovered] = {}

    def lookup(name: str) -> Discovered:
        if name not in cache:
            cache[name] = _discover(name, tmp_path_factory)
        return cache[name]

    return lookup


def _read(item: Any, attribute: str) -> Any:
    """Return an attribute in expected.json's JSON shape, or MISSING when devd lacks it."""
    value = getattr(item, attribute, MISSING)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (tuple, list)):
        return list(value)
    return value


def _compare(fixture: str, kind: str, fields: tuple[str, ...], expected: list[dict[str, Any]],
             actual: dict[Any, Any], key_of: Callable[[dict[str, Any]], Any]) -> list[str]:
    """Compare expected entries with actual objects by key and return one message per mismatch.

    An attribute that devd's objects lack is reported once per fixture, with the values
    expected for it, instead of once per item.
    """
    mismatches: list[str] = []
    missing_attributes: dict[str, dict[str, Any]] = {}
    for entry in expected:
        key = key_of(entry)
        item = actual.get(key)
        if item is None:
            mismatches.append(f"{fixture}: {kind} {key} not discovered. Expected {entry}")
            continue
        for field, value in entry.items():
            if field not in fields:
                continue
            got = _read(item, field)
            if got is MISSING:
                missing_attributes.setdefault(field, {})[str(key)] = value
            elif got != value:
                mismatches.append(f"{fixture}: {kind} {key}: {field}: expected {value!r}, got {got!r}")

    for field, values in missing_attributes.items():
        owner = type(next(iter(actual.values()))).__name__
        mismatches.append(f"{fixture}: {owner} has no attribute {field!r}. Expected {values}")

    expected_keys = {key_of(entry) for entry in expected}
    for key in actual:
        if key not in expected_keys:
            mismatches.append(f"{fixture}: unexpected {kind} {key}")
    return mismatches


def _route_key(route: Any) -> tuple[Any, ...]:
    return (_read(route, "api"), route.method, route.path)


def _problem_matches(problem: Problem, entry: dict[str, Any]) -> bool:
    substrings = entry["contains"] if isinstance(entry["contains"], list) else [entry["contains"]]
    return ((problem.file or "").endswith(entry["file_suffix"])
            and problem.line == entry["line"]
            and all(substring in problem.message for substring in substrings))


def _fail_on(mismatches: list[str]) -> None:
    # One assert for the whole list, so a failing fixture shows every mismatch at once.
    assert not mismatches, "\n" + "\n".join(mismatches)


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_config_is_complete(name: str) -> None:
    config, expected = _load(name)
    root = FIXTURES / name

    assert config["description"].strip(), f"{name}: description is empty"
    assert isinstance(config["oracle"], bool), f"{name}: oracle must be true or false"
    if not config["oracle"]:
        assert config.get("oracle_reason", "").strip(), f"{name}: oracle is false without oracle_reason"
    assert (root / config["infra"]).is_dir(), f"{name}: infra {config['infra']} is not a directory"
    for path in config["var_files"]:
        assert (root / path).is_file(), f"{name}: var file {path} does not exist"
    copy = config.get("setup", {}).get("copy")
    if copy:
        assert (root / copy["modules_dir"]).is_dir(), f"{name}: setup directory {copy['modules_dir']} is missing"
    assert set(expected) == {"functions", "routes", "layers", "problems"}, f"{name}: expected.json keys"


@pytest.mark.parametrize("name", [name for name in FIXTURE_NAMES if _load(name)[0]["oracle"]])
def test_oracle_fixture_needs_only_aws_provider(name: str) -> None:
    texts = {path: path.read_text() for path in (FIXTURES / name).rglob("*.tf*") if path.is_file()}

    for path, text in texts.items():
        for marker in NON_ORACLE_MARKERS:
            assert marker not in text, f"{name}: {path.name} uses {marker}, so terraform plan needs more than hashicorp/aws"
        for source in MODULE_SOURCE.findall(text):
            assert source.startswith(("./", "../")), f"{name}: {path.name} calls the non-local module {source}"


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_functions(name: str, discovered: Callable[[str], Discovered]) -> None:
    result = discovered(name)
    actual = {function.address: function for function in result.inventory.functions}

    _fail_on(_compare(name, "function", FUNCTION_FIELDS, result.expected["functions"], actual,
                      lambda entry: entry["address"]))


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_routes(name: str, discovered: Callable[[str], Discovered]) -> None:
    result = discovered(name)
    actual: dict[tuple[Any, ...], Any] = {}
    mismatches: list[str] = []
    for route in result.inventory.routes:
        key = _route_key(route)
        if key in actual:
            mismatches.append(f"{name}: two routes share the key {key}: {actual[key]} and {route}")
        actual[key] = route

    mismatches += _compare(name, "route", ROUTE_FIELDS, result.expected["routes"], actual,
                           lambda entry: (entry["api"], entry["method"], entry["path"]))
    _fail_on(mismatches)


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_layers(name: str, discovered: Callable[[str], Discovered]) -> None:
    result = discovered(name)
    layers = getattr(result.inventory, "layers", MISSING)
    if layers is MISSING:
        _fail_on([f"{name}: Inventory has no attribute 'layers'. Expected {result.expected['layers']}"])
    actual = {layer.address: layer for layer in layers}

    _fail_on(_compare(name, "layer", LAYER_FIELDS, result.expected["layers"], actual,
                      lambda entry: entry["address"]))


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_problems(name: str, discovered: Callable[[str], Discovered]) -> None:
    result = discovered(name)
    unmatched = list(result.inventory.problems)
    mismatches: list[str] = []
    for entry in result.expected["problems"]:
        match = next((problem for problem in unmatched if _problem_matches(problem, entry)), None)
        if match is None:
            reported = [str(problem) for problem in result.inventory.problems]
            mismatches.append(f"{name}: expected problem not reported: {entry['file_suffix']}:{entry['line']} "
                              f"containing {entry['contains']!r}. Reported: {reported}")
        else:
            unmatched.remove(match)

    for problem in unmatched:
        mismatches.append(f"{name}: unexpected problem: {problem}")
    _fail_on(mismatches)
