"""Module instances: the scope in which one module's expressions are evaluated.

A module instance has an address (`module.api["users"]`), its directory, its input
values, and resolves `var`, `local`, `module`, `data`, `path` and resource references lazily,
memoizing each value. An expression that fails becomes an Unknown and a Problem naming its
file and line, so one bad value never hides the rest of the configuration.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from devd.inventory import Problem
from devd.terraform.evaluate import Evaluator
from devd.terraform.expr import Block, Expr
from devd.terraform.values import EvalError, Unknown

if TYPE_CHECKING:
    from devd.terraform.loader import Loader


def instance_address(base: str, key: Any) -> str:
    """Return an address with its instance key, as `terraform state list` prints it."""
    if key is None:
        return base
    if isinstance(key, int):
        return f"{base}[{key}]"
    return f'{base}["{key}"]'


@dataclass
class ResourceInstance:
    """One instance of a resource or data block; attributes are evaluated when read."""

    address: str
    type: str
    block: Block
    module: "ModuleInstance"
    extra: dict[str, Any] = field(default_factory=dict)
    _values: dict[str, Any] = field(default_factory=dict)

    def attribute(self, name: str, line: int) -> Any:
        """Return the configured value of an argument, or an Unknown for computed ones."""
        if name not in self._values:
            self._values[name] = self._compute(name)
        return self._values[name]

    def key(self, key: Any, line: int) -> Any:
        raise EvalError(f"{self.address} is a single instance and has no key {key!r}", line)

    def get(self, name: str, default: Any = None) -> Any:
        """Return an argument's value, or default when it is not set."""
        if name not in self.block.attributes and not self._has_nested(name):
            return default
        return self.attribute(name, 0)

    def nested(self, block_type: str) -> list[dict[str, Any]]:
        """Return nested blocks of one type as evaluated maps, `dynamic` ones expanded."""
        found = [self.module.evaluate_map(child, self.extra) for child in self.block.child_blocks(block_type)]
        for dynamic in self.block.child_blocks("dynamic"):
            if dynamic.labels[:1] == (block_type,):
                found += self._expand_dynamic(dynamic)
        return found

    def _has_nested(self, name: str) -> bool:
        return bool(self.block.child_blocks(name)) or any(
            dynamic.labels[:1] == (name,) for dynamic in self.block.child_blocks("dynamic"))

    def _expand_dynamic(self, dynamic: Block) -> list[dict[str, Any]]:
        """Expand `dynamic "NAME" { for_each = ..., content { ... } }` into maps."""
        collection = self.module.evaluate(dynamic.attributes["for_each"], dynamic, self.extra) \
            if "for_each" in dynamic.attributes else []
        iterator = self.module.evaluate(dynamic.attributes["iterator"], dynamic, self.extra) \
            if "iterator" in dynamic.attributes else dynamic.labels[0]
        content = dynamic.child_blocks("content")
        if isinstance(collection, Unknown) or not content or not isinstance(iterator, str):
            return []
        pairs = collection.items() if isinstance(collection, dict) else enumerate(collection)
        return [self.module.evaluate_map(content[0], {**self.extra, iterator: {"key": key, "value": value}})
                for key, value in pairs]

    def _compute(self, name: str) -> Any:
        if name in self.block.attributes:
            return self.module.evaluate(self.block.attributes[name], self.block, self.extra)
        if self._has_nested(name):
            return self.nested(name)
        return Unknown(frozenset({f"{self.address}.{name}"}))


class _ResourceType:
    """`aws_lambda_function` (or `data.archive_file`): its names resolve to instances."""

    def __init__(self, module: "ModuleInstance", mode: str, type_name: str) -> None:
        self.module = module
        self.mode = mode
        self.type_name = type_name

    def attribute(self, name: str, line: int) -> Any:
        value = self.module.resource_value(self.mode, self.type_name, name)
        if value is None:
            raise EvalError(f"reference to undeclared {self.mode} {self.type_name}.{name}", line)
        return value

    def key(self, key: Any, line: int) -> Any:
        raise EvalError(f"{self.type_name} must be followed by a resource name", line)


class _Lazy:
    """A namespace whose attributes come from a function, such as `var` or `local`."""

    def __init__(self, resolve: Callable[[str, int], Any]) -> None:
        self.resolve = resolve

    def attribute(self, name: str, line: int) -> Any:
        return self.resolve(name, line)

    def key(self, key: Any, line: int) -> Any:
        return self.resolve(str(key), line)


class _Names(Mapping[str, Any]):
    """Root names of a module's scope; unknown identifiers are treated as resource types."""

    def __init__(self, module: "ModuleInstance", fixed: dict[str, Any]) -> None:
        self.module = module
        self.fixed = fixed

    def __getitem__(self, name: str) -> Any:
        if name in self.fixed:
            return self.fixed[name]
        return _ResourceType(self.module, "resource", name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str)

    def __iter__(self):
        return iter(self.fixed)

    def __len__(self) -> int:
        return len(self.fixed)


class ModuleInstance:
    """One instance of a module (the root, or one key of a module call)."""

    def __init__(self, loader: "Loader", address: str, directory: Path,
                 inputs: Mapping[str, Callable[[], Any]]) -> None:
        self.loader = loader
        self.address = address
        self.directory = directory
        self.inputs = inputs
        self.index = loader.module_index(directory)
        self.blocks = self.index.blocks
        self._variables: dict[str, Any] = {}
        self._locals: dict[str, Any] = {}
        self._outputs: dict[str, Any] = {}
        self._resources: dict[tuple[str, str, str], Any] = {}
        self._children: dict[str, Any] = {}
        self._evaluating: set[str] = set()
        self._evaluators: dict[tuple[int, bool], tuple[Any, Evaluator]] = {}
        relative = os.path.relpath(directory, loader.root_dir)
        self._names = {
            "var": _Lazy(self.variable), "local": _Lazy(self.local), "module": _Lazy(self.module_value),
            "data": _Lazy(lambda name, line: _ResourceType(self, "data", name)),
            "path": {"module": relative, "root": ".", "cwd": str(loader.root_dir)},
            "terraform": {"workspace": loader.workspace},
            "self": Unknown(reason="self is known only inside provisioners"),
        }

    def prefix(self, local_address: str) -> str:
        """Return a full address for an address inside this module."""
        return f"{self.address}.{local_address}" if self.address else local_address

    def evaluator(self, extra: Mapping[str, Any] | None = None, documents: bool = False) -> Evaluator:
        """Return an evaluator for this module's scope, with each/count when given.

        Evaluators are reused per `extra` mapping (one per resource instance), which is kept
        alive by the cache so its id is not reused while the entry exists.
        """
        key = (id(extra) if extra else 0, documents)
        cached = self._evaluators.get(key)
        if cached is not None:
            return cached[1]
        names = _Names(self, {**self._names, **(extra or {})})
        evaluator = Evaluator(names, self.loader.functions, documents)
        self._evaluators[key] = (extra, evaluator)
        return evaluator

    def evaluate(self, expr: Expr, block: Block | None, extra: Mapping[str, Any] | None = None,
                 documents: bool = False) -> Any:
        """Evaluate expr; on failure record a problem at its file and line and return Unknown."""
        try:
            return self.evaluator(extra, documents).evaluate(expr)
        except EvalError as error:
            file = block.file if block else None
            self.loader.report(Problem(str(error), file, error.line or (block.line if block else None)))
            return Unknown(reason=str(error))
        except RecursionError:
            file = block.file if block else None
            self.loader.report(Problem("expression nests too deeply or refers to itself", file, block.line if block else None))
            return Unknown(reason="recursion")

    def evaluate_map(self, block: Block, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Evaluate every attribute of a block (nested blocks become lists of maps)."""
        result: dict[str, Any] = {name: self.evaluate(expr, block, extra) for name, expr in block.attributes.items()}
        for child in block.blocks:
            result.setdefault(child.type, []).append(self.evaluate_map(child, extra))
        return result

    def variable(self, name: str, line: int) -> Any:
        """Return the value of `var.name`."""
        if name not in self._variables:
            self._variables[name] = self._variable_value(name, line)
        return self._variables[name]

    def _variable_value(self, name: str, line: int) -> Any:
        block = self._find("variable", name)
        if block is None:
            raise EvalError(f"reference to undeclared input variable {name!r}", line)
        if name in self.inputs:
            value = self.inputs[name]()
        elif self.address == "" and name in self.loader.root_values:
            value = self.loader.root_values[name](block)
        elif "default" in block.attributes:
            value = self.evaluate(block.attributes["default"], block)
        else:
            self.loader.report(Problem(
                f"variable {name!r} has no value: pass --var {name}=VALUE, a --var-file, "
                f"or set TF_VAR_{name}", block.file, block.line))
            value = Unknown(reason=f"variable {name} has no value")
        return self.loader.convert_variable(block, value, self)

    def local(self, name: str, line: int) -> Any:
        """Return the value of `local.name`."""
        if name in self._locals:
            return self._locals[name]
        if name in self._evaluating:
            raise EvalError(f"local.{name} refers to itself", line)
        block = self.index.locals.get(name)
        if block is None:
            raise EvalError(f"reference to undeclared local value {name!r}", line)
        self._evaluating.add(name)
        try:
            self._locals[name] = self.evaluate(block.attributes[name], block)
        finally:
            self._evaluating.discard(name)
        return self._locals[name]

    def output(self, name: str, line: int) -> Any:
        """Return the value of an output of this module."""
        if name not in self._outputs:
            block = self._find("output", name)
            if block is None:
                raise EvalError(f"module {self.address} has no output {name!r}", line)
            self._outputs[name] = self.evaluate(block.attributes.get("value"), block)
        return self._outputs[name]

    def module_value(self, name: str, line: int) -> Any:
        """Return `module.name`: an instance's outputs, or a list or map of them."""
        children = self.loader.module_calls(self).get(name)
        if children is None:
            raise EvalError(f"reference to undeclared module {name!r}", line)
        return children.value

    def resource_value(self, mode: str, type_name: str, name: str) -> Any:
        """Return a resource's instance, or a list or map of instances with count or for_each."""
        expanded = self.resource_expansion(mode, type_name, name)
        return None if expanded is None else expanded.value

    def resource_expansion(self, mode: str, type_name: str, name: str) -> Any:
        """Return a resource block expanded into instances, or None when it is not declared."""
        key = (mode, type_name, name)
        if key not in self._resources:
            block = self._find_resource(mode, type_name, name)
            self._resources[key] = None if block is None else self.loader.expand_resource(self, block)
        return self._resources[key]

    def _find(self, block_type: str, name: str) -> Block | None:
        return self.index.named.get((block_type, name))

    def _find_resource(self, mode: str, type_name: str, name: str) -> Block | None:
        return self.index.resources.get((mode, type_name, name))


class Outputs:
    """`module.NAME` for one instance: its outputs as attributes."""

    def __init__(self, instance: Any) -> None:
        self.instance = instance

    def attribute(self, name: str, line: int) -> Any:
        return self.instance.output(name, line)

    def key(self, key: Any, line: int) -> Any:
        return self.instance.output(str(key), line)
