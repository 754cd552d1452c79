"""Load a Terraform root module: files, root variables, module calls and their expansion."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from devd.errors import TerraformError
from devd.inventory import Problem
from devd.terraform.community import VirtualApiModule, VirtualModule, virtual_module_for
from devd.terraform.evaluate import Evaluator
from devd.terraform.expr import Block, Call, Expr, Name
from devd.terraform.files import FileCache, is_override, module_files
from devd.terraform.functions import builtin_functions
from devd.terraform.modules import (
    ModuleInstance,
    Outputs,
    ResourceInstance,
    instance_address,
)
from devd.terraform.overrides import merge_overrides
from devd.terraform.syntax import parse_attributes, parse_expression
from devd.terraform.types import apply_defaults
from devd.terraform.values import EvalError, Unknown

log = logging.getLogger("devd.terraform")


@dataclass(frozen=True)
class TerraformOptions:
    """Arguments of a `terraform plan` run: the root directory, var files and variables."""

    root_dir: Path
    var_files: tuple[Path, ...] = ()
    variables: tuple[tuple[str, str], ...] = ()
    environ: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Expanded:
    """A block after count/for_each: the value references see, and the instances."""

    value: Any
    instances: list[Any]


class Loader:
    """Evaluates one root module and the modules it calls, collecting problems."""

    def __init__(self, options: TerraformOptions, cache: FileCache | None = None) -> None:
        self.options = options
        self.root_dir = options.root_dir.resolve()
        self.cache = cache or FileCache()
        self.functions = builtin_functions(self.root_dir)
        self.problems: list[Problem] = []
        self._reported: set[Problem] = set()
        self.workspace = options.environ.get("TF_WORKSPACE") or _read_workspace(self.root_dir)
        self.root_values = self._root_values()
        self._blocks: dict[Path, tuple[Block, ...]] = {}
        self._indexes: dict[Path, BlockIndex] = {}
        self._resolved: dict[tuple[Path, str], Path] = {}
        self._calls: dict[int, dict[str, Expanded]] = {}
        self._fetched = _fetched_modules(self.root_dir)
        self.root = ModuleInstance(self, "", self.root_dir, {})

    def report(self, problem: Problem) -> None:
        """Record a problem once."""
        if problem not in self._reported:
            self._reported.add(problem)
            self.problems.append(problem)

    def display(self, path: Path) -> str:
        """Return a path relative to the root module's parent, for messages."""
        try:
            return os.path.relpath(path, self.root_dir.parent)
        except ValueError:
            return str(path)

    def module_blocks(self, directory: Path) -> tuple[Block, ...]:
        """Return every block of a module directory, reporting files that cannot be read."""
        if directory not in self._blocks:
            blocks: list[Block] = []
            overrides: list[Block] = []
            for path in module_files(directory):
                parsed = self.cache.parse(path, self.display(path))
                if parsed.problem:
                    self.report(parsed.problem)
                (overrides if is_override(path) else blocks).extend(parsed.blocks)
            self._blocks[directory] = merge_overrides(blocks, overrides)
        return self._blocks[directory]

    def _resolve(self, base: Path, source: str) -> Path:
        key = (base, source)
        if key not in self._resolved:
            self._resolved[key] = (base / source).resolve()
        return self._resolved[key]

    def module_index(self, directory: Path) -> "BlockIndex":
        """Return the blocks of a module directory indexed by type and name."""
        if directory not in self._indexes:
            self._indexes[directory] = BlockIndex(self.module_blocks(directory))
        return self._indexes[directory]

    def walk(self) -> Iterator[ModuleInstance | VirtualModule | VirtualApiModule]:
        """Yield the root module instance and every module instance below it."""
        pending: list[ModuleInstance | VirtualModule | VirtualApiModule] = [self.root]
        while pending:
            instance = pending.pop(0)
            yield instance
            if isinstance(instance, ModuleInstance):
                for expanded in self.module_calls(instance).values():
                    pending.extend(expanded.instances)

    def resources(self, module: ModuleInstance) -> Iterator[ResourceInstance]:
        """Yield every resource and data instance declared in a module instance."""
        for block in module.blocks:
            if block.type in ("resource", "data") and len(block.labels) == 2:
                yield from module.resource_expansion(block.type, *block.labels).instances

    def expand_resource(self, module: ModuleInstance, block: Block) -> Expanded:
        """Expand a resource block's count or for_each into instances."""
        prefix = "data." if block.type == "data" else ""
        base = module.prefix(f"{prefix}{block.labels[0]}.{block.labels[1]}")

        def make(key: Any, extra: dict[str, Any]) -> ResourceInstance:
            return ResourceInstance(instance_address(base, key), block.labels[0], block, module, extra)

        return self._expand(module, block, make)

    def module_calls(self, module: ModuleInstance) -> dict[str, Expanded]:
        """Return the module calls of a module instance, expanded into instances."""
        if id(module) not in self._calls:
            calls: dict[str, Expanded] = {}
            for block in module.blocks:
                if block.type == "module" and block.labels:
                    calls[block.labels[0]] = self._expand_call(module, block)
            self._calls[id(module)] = calls
        return self._calls[id(module)]

    def _expand_call(self, parent: ModuleInstance, block: Block) -> Expanded:
        name = block.labels[0]
        base = parent.prefix(f"module.{name}")
        source = parent.evaluate(block.attributes["source"], block) if "source" in block.attributes else None

        def make(key: Any, extra: dict[str, Any]) -> Any:
            address = instance_address(base, key)
            inputs = {
                arg: _lazy_input(parent, expr, block, extra)
                for arg, expr in block.attributes.items()
                if arg not in ("source", "version", "count", "for_each", "providers", "depends_on")
            }
            return self._instantiate(parent, block, address, source, inputs)

        expanded = self._expand(parent, block, make)
        expanded.instances = [i for i in expanded.instances if i is not None]
        expanded.value = _map_value(expanded.value, lambda i: Outputs(i) if i is not None else Unknown())
        return expanded

    def _instantiate(self, parent: ModuleInstance, block: Block, address: str, source: Any,
                     inputs: dict[str, Callable[[], Any]]) -> Any:
        if not isinstance(source, str):
            self.report(Problem(f"module {block.labels[0]!r} has no literal source", block.file, block.line))
            return None
        if source.startswith(("./", "../")):
            directory = self._resolve(parent.directory, source)
            if not directory.is_dir():
                self.report(Problem(f"module source {source!r} is not a directory", block.file, block.line))
                return None
            return ModuleInstance(self, address, directory, inputs)
        fetched = self._fetched.get(_module_key(address))
        if fetched is not None and fetched.is_dir():
            return ModuleInstance(self, address, fetched, inputs)
        virtual = virtual_module_for(source, address, inputs, self, block.file, block.line)
        if virtual is None:
            self.report(Problem(
                f"module {block.labels[0]!r} (source {source!r}) is not fetched and devd does not know "
                f"its resources: run `terraform init` in {self.display(self.root_dir)}", block.file, block.line))
        return virtual

    def _expand(self, module: ModuleInstance, block: Block, make: Callable[[Any, dict[str, Any]], Any]) -> Expanded:
        if "count" in block.attributes:
            count = module.evaluate(block.attributes["count"], block)
            if isinstance(count, Unknown) or not isinstance(count, (int, float)):
                self._report_unknown_repetition(block, "count")
                return Expanded([], [])
            items = [make(index, {"count": {"index": index}}) for index in range(int(count))]
            return Expanded(items, list(items))
        if "for_each" in block.attributes:
            collection = module.evaluate(block.attributes["for_each"], block)
            if isinstance(collection, Unknown) or not isinstance(collection, (dict, list)):
                self._report_unknown_repetition(block, "for_each")
                return Expanded({}, [])
            pairs = collection.items() if isinstance(collection, dict) else ((v, v) for v in collection)
            items = {str(k): make(str(k), {"each": {"key": str(k), "value": v}}) for k, v in pairs}
            return Expanded(items, list(items.values()))
        single = make(None, {})
        return Expanded(single, [single])

    def _report_unknown_repetition(self, block: Block, argument: str) -> None:
        self.report(Problem(
            f"{argument} of {'.'.join(block.labels)} is not known before apply; devd skips it "
            "(give it a value from variables or locals)", block.file, block.line))

    def convert_variable(self, block: Block, value: Any, module: ModuleInstance) -> Any:
        """Convert a value to the declared type: strings from the command line or TF_VAR_ to
        numbers and bools, and `optional()` defaults filled into objects."""
        type_expr = block.attributes.get("type")
        if type_expr is None:
            return value
        if not isinstance(value, str):
            return apply_defaults(type_expr, value, lambda expr: module.evaluate(expr, block))
        declared = _type_keyword(type_expr)
        try:
            if declared == "number":
                number = float(value)
                return int(number) if number.is_integer() else number
            if declared == "bool" and value in ("true", "false"):
                return value == "true"
        except ValueError:
            self.report(Problem(f"variable {block.labels[0]!r} must be a number, got {value!r}", block.file, block.line))
        return value

    def _root_values(self) -> dict[str, Callable[[Block], Any]]:
        values: dict[str, Callable[[Block], Any]] = {}
        for name, text in self.options.environ.items():
            if name.startswith("TF_VAR_"):
                values[name[7:]] = _cli_value(text)
        for path in _auto_var_files(self.root_dir) + list(self.options.var_files):
            values.update(self._var_file_values(path))
        for name, text in self.options.variables:
            values[name] = _cli_value(text)
        return values

    def _var_file_values(self, path: Path) -> dict[str, Callable[[Block], Any]]:
        display = self.display(path)
        try:
            text = path.read_text(encoding="utf-8")
            if path.name.endswith(".json"):
                return {k: (lambda b, v=v: v) for k, v in json.loads(text).items()}
            attributes = parse_attributes(text, display)
        except OSError as error:
            self.report(Problem(f"cannot read var file: {error.strerror}; check the --var-file path", display))
            return {}
        except (TerraformError, json.JSONDecodeError) as error:
            self.report(Problem(f"invalid var file: {error}", display))
            return {}
        evaluator = Evaluator({}, self.functions)
        return {name: _constant(evaluator, expr, display, self) for name, expr in attributes.items()}


class BlockIndex:
    """A module's blocks by type and name, so that lookups do not scan every block."""

    def __init__(self, blocks: tuple[Block, ...]) -> None:
        self.blocks = blocks
        self.named: dict[tuple[str, str], Block] = {}
        self.resources: dict[tuple[str, str, str], Block] = {}
        self.locals: dict[str, Block] = {}
        for block in blocks:
            if block.type in ("resource", "data") and len(block.labels) == 2:
                self.resources.setdefault((block.type, *block.labels), block)
            elif block.type == "locals":
                for name in block.attributes:
                    self.locals.setdefault(name, block)
            elif block.labels:
                self.named[(block.type, block.labels[0])] = block


def _lazy_input(parent: ModuleInstance, expr: Expr, block: Block, extra: dict[str, Any]) -> Callable[[], Any]:
    cache: list[Any] = []

    def value() -> Any:
        if not cache:
            cache.append(parent.evaluate(expr, block, extra))
        return cache[0]

    return value


def _constant(evaluator: Evaluator, expr: Expr, display: str, loader: Loader) -> Callable[[Block], Any]:
    def value(block: Block) -> Any:
        try:
            return evaluator.evaluate(expr)
        except EvalError as error:
            loader.report(Problem(f"invalid value: {error}", display, error.line))
            return Unknown(reason=str(error))

    return value


def _cli_value(text: str) -> Callable[[Block], Any]:
    """Return a resolver for a `--var` or `TF_VAR_` value: a string, or HCL when the declared type is not a primitive."""

    def value(block: Block) -> Any:
        declared = _type_keyword(block.attributes.get("type"))
        if declared in (None, "string", "number", "bool") or not text.strip().startswith(("[", "{")):
            return text
        try:
            return Evaluator({}, {}).evaluate(parse_expression(text))
        except (EvalError, TerraformError):
            return text

    return value


def _type_keyword(expr: Expr | None) -> str | None:
    if isinstance(expr, Name):
        return expr.name
    if isinstance(expr, Call):
        return expr.name
    return None


def _map_value(value: Any, convert: Callable[[Any], Any]) -> Any:
    if isinstance(value, list):
        return [convert(item) for item in value]
    if isinstance(value, dict):
        return {key: convert(item) for key, item in value.items()}
    return convert(value)


def _auto_var_files(root: Path) -> list[Path]:
    files = [root / "terraform.tfvars", root / "terraform.tfvars.json"]
    auto = sorted(p for p in root.glob("*.auto.tfvars*") if p.name.endswith((".auto.tfvars", ".auto.tfvars.json")))
    return [p for p in files if p.is_file()] + auto


def _read_workspace(root: Path) -> str:
    try:
        return (root / ".terraform" / "environment").read_text().strip() or "default"
    except OSError:
        return "default"


def _module_key(address: str) -> str:
    """Return the key modules.json uses for a module address: call names joined by dots."""
    parts = [part.split("[", 1)[0] for part in address.split("module.")[1:]]
    return ".".join(part.rstrip(".") for part in parts)


def _fetched_modules(root: Path) -> dict[str, Path]:
    manifest = root / ".terraform" / "modules" / "modules.json"
    try:
        entries = json.loads(manifest.read_text()).get("Modules", [])
    except (OSError, ValueError):
        return {}
    return {entry["Key"]: (root / entry["Dir"]).resolve() for entry in entries if entry.get("Key")}
