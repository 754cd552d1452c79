"""Turn evaluated Terraform into the inventory: Lambda functions, layers and the routes that
reach them."""

from __future__ import annotations

import gc
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devd.config import load_packages
from devd.errors import ConfigError
from devd.inventory import Function, Inventory, Layer, Problem
from devd.terraform.code import CodeLocator
from devd.terraform.community import VirtualApiModule, VirtualModule
from devd.terraform.expr import Literal, ObjectExpr
from devd.terraform.files import FileCache
from devd.terraform.loader import Loader, TerraformOptions
from devd.terraform.modules import ResourceInstance
from devd.terraform.routes import RouteCollector
from devd.terraform.values import Unknown, is_known, to_string

log = logging.getLogger("devd.terraform")


@dataclass(frozen=True)
class _Spec:
    """The evaluated arguments of one function, before they are checked."""

    address: str
    where: Problem
    name: Any
    runtime: Any
    handler: Any
    code_dir: Any
    environment: Any
    timeout: Any
    memory: Any
    architectures: Any
    layers: Any
    image: bool = False
    env_lines: dict[str, int] = field(default_factory=dict)
    """Lines of environment variables written as literal keys, for problems about one of them."""
    package: Path | None = None
    log_group: Any = None


def discover(options: TerraformOptions, project_root: Path, cache: FileCache | None = None) -> Inventory:
    """Evaluate the root module in options and return its functions, routes and problems.

    Automatic garbage collection is paused meanwhile: evaluation makes many small objects
    that live until it ends, so collections during it only cost time.
    """
    started = time.perf_counter()
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _discover(options, project_root, cache, started)
    finally:
        if collecting:
            gc.enable()


def _discover(options: TerraformOptions, project_root: Path, cache: FileCache | None, started: float) -> Inventory:
    loader = Loader(options, cache)
    if not loader.root_dir.is_dir():
        return Inventory(problems=(Problem(f"Terraform directory {options.root_dir} does not exist; pass --infra DIR"),))

    resources: dict[str, ResourceInstance] = {}
    virtual: list[VirtualModule] = []
    api_modules: list[VirtualApiModule] = []
    for instance in loader.walk():
        if isinstance(instance, VirtualModule):
            virtual.append(instance)
            continue
        if isinstance(instance, VirtualApiModule):
            api_modules.append(instance)
            continue
        for resource in loader.resources(instance):
            resources[resource.address] = resource

    builder = _Builder(loader, project_root.resolve(), resources)
    specs = [builder.resource_spec(r) for r in resources.values()
             if r.type == "aws_lambda_function" and not _is_data(r.address)]
    specs += [builder.module_spec(module) for module in virtual if module.creates_function]
    functions = sorted((f for f in map(builder.function, specs) if f is not None), key=lambda f: f.address)
    layers = builder.layers(virtual)
    routes = RouteCollector(resources, functions, loader.report, api_modules).collect()

    log.debug("discovered %d functions and %d routes in %.1f ms", len(functions), len(routes),
              (time.perf_counter() - started) * 1000)
    return Inventory(tuple(functions), tuple(routes), tuple(loader.problems), layers)


def _packages(project_root: Path, report) -> dict[Path, Path]:
    try:
        return load_packages(project_root)
    except ConfigError as error:
        report(Problem(str(error)))
        return {}


def _is_data(address: str) -> bool:
    return address.startswith("data.") or ".data." in address


class _Builder:
    """Build Function and Layer values from resource instances and modelled modules."""

    def __init__(self, loader: Loader, project_root: Path, resources: dict[str, ResourceInstance]) -> None:
        self.loader = loader
        self.project_root = project_root
        self.resources = resources
        self.code = CodeLocator(resources, loader.report, loader.root_dir, _packages(project_root, loader.report))

    def resource_spec(self, resource: ResourceInstance) -> _Spec:
        block = resource.block
        image = resource.get("package_type") == "Image"
        environment = _first(resource.get("environment", [])).get("variables") or {}
        return _Spec(
            resource.address, Problem("", block.file, block.line), resource.get("function_name"),
            resource.get("runtime"), resource.get("handler"), None if image else self.code.code_dir(resource),
            environment, resource.get("timeout", 3), resource.get("memory_size", 128),
            resource.get("architectures"), resource.get("layers"), image, _environment_lines(resource),
            None if image else self.code.package(resource), _first(resource.get("logging_config", [])).get("log_group"))

    def module_spec(self, module: VirtualModule) -> _Spec:
        code_dir = _source_path_dir(module.input("source_path"))
        if code_dir is None and module.input("local_existing_package"):
            self.loader.report(Problem(f"{module.function_address} uses local_existing_package; devd cannot map a "
                                       "prebuilt zip back to its source"))
        return _Spec(
            module.function_address, Problem("", module.file, module.line), module.input("function_name"),
            module.input("runtime"), module.input("handler"), code_dir,
            module.input("environment_variables") or {}, module.input("timeout"), module.input("memory_size"),
            module.input("architectures"), module.input("layers"), module.input("package_type") == "Image")

    def function(self, spec: _Spec) -> Function | None:
        name = spec.name
        if not isinstance(name, str) or not name:
            self._problem(f"function_name of {spec.address} is not known before apply; devd uses the address", spec)
            name = spec.address
        if not spec.image and (not isinstance(spec.runtime, str) or not isinstance(spec.handler, str)):
            self._problem(f"{spec.address} has no known runtime or handler; set both as literals or variables", spec)
            return None
        absolute = self._absolute(spec.code_dir)
        return Function(
            address=spec.address, name=name, runtime=spec.runtime if isinstance(spec.runtime, str) else None,
            handler=spec.handler if isinstance(spec.handler, str) else None,
            code_dir=str(absolute) if absolute else None, source=self._relative(absolute),
            environment=self._environment(spec), timeout=_int(spec.timeout, 3), memory=_int(spec.memory, 128),
            architectures=tuple(spec.architectures) if isinstance(spec.architectures, list)
            and is_known(spec.architectures) else ("x86_64",),
            layers=self._layer_addresses(spec.layers), runnable=not spec.image,
            file=spec.where.file, line=spec.where.line, package=str(spec.package) if spec.package else None,
            log_group=spec.log_group if isinstance(spec.log_group, str) else None)

    def layers(self, virtual: list[VirtualModule]) -> tuple[Layer, ...]:
        """Return every layer version: resources, and layers the lambda module creates."""
        found = []
        for resource in self.resources.values():
            if resource.type == "aws_lambda_layer_version" and not _is_data(resource.address):
                absolute = self._absolute(self.code.code_dir(resource))
                name = resource.get("layer_name")
                found.append(Layer(resource.address, name if isinstance(name, str) else resource.address,
                                   str(absolute) if absolute else None, self._relative(absolute)))
        for module in virtual:
            if module.creates_layer:
                absolute = self._absolute(_source_path_dir(module.input("source_path")))
                name = module.input("layer_name")
                found.append(Layer(module.layer_address, name if isinstance(name, str) else module.layer_address,
                                   str(absolute) if absolute else None, self._relative(absolute)))
        return tuple(sorted(found, key=lambda layer: layer.address))

    def _layer_addresses(self, layers: Any) -> tuple[str, ...]:
        if not isinstance(layers, list):
            return ()
        addresses = []
        for value in layers:
            if isinstance(value, Unknown):
                addresses += [a for a in sorted(value.resource_addresses()) if "aws_lambda_layer_version" in a]
            elif isinstance(value, str):
                addresses.append(value)
        return tuple(addresses)

    def _absolute(self, code_dir: Any) -> Path | None:
        return (self.loader.root_dir / code_dir).resolve() if isinstance(code_dir, str) else None

    def _relative(self, absolute: Path | None) -> str | None:
        return os.path.relpath(absolute, self.project_root) if absolute else None

    def _environment(self, spec: _Spec) -> dict[str, str]:
        if isinstance(spec.environment, Unknown) or not isinstance(spec.environment, dict):
            self._problem(f"the environment of {spec.address} is not known before apply", spec)
            return {}
        result: dict[str, str] = {}
        for key, value in spec.environment.items():
            if not is_known(value):
                line = spec.env_lines.get(key, spec.where.line)
                self.loader.report(Problem(
                    f"environment variable {key} of {spec.address} is known only after apply; devd leaves it "
                    "unset (give it a literal value or a variable)", spec.where.file, line))
                continue
            result[key] = to_string(value) if value is not None else ""
        return result

    def _problem(self, message: str, spec: _Spec) -> None:
        self.loader.report(Problem(message, spec.where.file, spec.where.line))


def _environment_lines(resource: ResourceInstance) -> dict[str, int]:
    blocks = resource.block.child_blocks("environment")
    variables = blocks[0].attributes.get("variables") if blocks else None
    if not isinstance(variables, ObjectExpr):
        return {}
    return {key.value: key.line for key, _ in variables.items if isinstance(key, Literal) and key.line}


def _source_path_dir(source_path: Any) -> str | None:
    """Return the directory of a lambda module `source_path`: a string, list, or list of maps."""
    first = source_path[0] if isinstance(source_path, list) and source_path else source_path
    if isinstance(first, dict):
        first = first.get("path")
    return first if isinstance(first, str) else None


def _first(items: Any) -> dict[str, Any]:
    if isinstance(items, list) and items and isinstance(items[0], dict):
        return items[0]
    return {}


def _int(value: Any, default: int) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default
