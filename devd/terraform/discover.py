"""Turn evaluated Terraform into the inventory: Lambda functions and the routes that reach them."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from devd.inventory import Function, Inventory, Problem
from devd.terraform.community import VirtualModule
from devd.terraform.files import FileCache
from devd.terraform.loader import Loader, TerraformOptions
from devd.terraform.modules import ResourceInstance
from devd.terraform.routes import RouteCollector
from devd.terraform.values import Unknown, is_known, to_string

log = logging.getLogger("devd.terraform")


def discover(options: TerraformOptions, project_root: Path, cache: FileCache | None = None) -> Inventory:
    """Evaluate the root module in options and return its functions, routes and problems."""
    started = time.perf_counter()
    loader = Loader(options, cache)
    if not loader.root_dir.is_dir():
        return Inventory(problems=(Problem(f"Terraform directory {options.root_dir} does not exist; pass --infra DIR"),))

    resources: dict[str, ResourceInstance] = {}
    virtual: list[VirtualModule] = []
    for instance in loader.walk():
        if isinstance(instance, VirtualModule):
            virtual.append(instance)
            continue
        for resource in loader.resources(instance):
            resources[resource.address] = resource

    builder = _FunctionBuilder(loader, project_root.resolve(), resources)
    functions = [builder.from_resource(r) for r in resources.values() if r.type == "aws_lambda_function"
                 and not r.address.startswith("data.") and ".data." not in r.address]
    functions += [builder.from_module(module) for module in virtual if module.creates_function]
    functions = sorted((f for f in functions if f is not None), key=lambda f: f.address)
    routes = RouteCollector(resources, functions, loader.report).collect()

    log.debug("discovered %d functions and %d routes in %.1f ms", len(functions), len(routes),
              (time.perf_counter() - started) * 1000)
    return Inventory(tuple(functions), tuple(routes), tuple(loader.problems))


class _FunctionBuilder:
    """Build Function values from resource instances and modelled modules."""

    def __init__(self, loader: Loader, project_root: Path, resources: dict[str, ResourceInstance]) -> None:
        self.loader = loader
        self.project_root = project_root
        self.resources = resources

    def from_resource(self, resource: ResourceInstance) -> Function | None:
        block = resource.block
        if resource.get("package_type") == "Image":
            self._problem(f"{resource.address} is a container image function; devd cannot run it locally", resource)
            return None
        environment = _first(resource.get("environment", [])).get("variables") or {}
        code_dir = self._code_dir(resource)
        return self._function(
            resource.address, resource, resource.get("function_name"), resource.get("runtime"),
            resource.get("handler"), code_dir, environment, resource.get("timeout", 3),
            resource.get("memory_size", 128), resource.get("architectures"), block.file, block.line)

    def from_module(self, module: VirtualModule) -> Function | None:
        code_dir = _source_path_dir(module.input("source_path"))
        if code_dir is None and module.input("local_existing_package"):
            self.loader.report(Problem(f"{module.function_address} uses local_existing_package; devd cannot map a "
                                       "prebuilt zip back to its source"))
        return self._function(
            module.function_address, None, module.input("function_name"), module.input("runtime"),
            module.input("handler"), code_dir, module.input("environment_variables") or {},
            module.input("timeout"), module.input("memory_size"), module.input("architectures"), None, None)

    def _function(self, address: str, resource: ResourceInstance | None, name: Any, runtime: Any, handler: Any,
                  code_dir: Any, environment: Any, timeout: Any, memory: Any, architectures: Any,
                  file: str | None, line: int | None) -> Function | None:
        where = resource or Problem("", file, line)
        if not isinstance(name, str) or not name:
            self._problem(f"function_name of {address} is not known before apply; devd uses the address", where)
            name = address
        if not isinstance(runtime, str) or not isinstance(handler, str):
            self._problem(f"{address} has no known runtime or handler; set both as literals or variables", where)
            return None
        absolute = (self.loader.root_dir / code_dir).resolve() if isinstance(code_dir, str) else None
        return Function(
            address=address, name=name, runtime=runtime, handler=handler,
            code_dir=str(absolute) if absolute else None,
            source=os.path.relpath(absolute, self.project_root) if absolute else None,
            environment=self._environment(address, environment, where),
            timeout=_int(timeout, 3), memory=_int(memory, 128),
            architectures=tuple(architectures) if isinstance(architectures, list) and is_known(architectures) else ("x86_64",),
            file=file, line=line)

    def _environment(self, address: str, environment: Any, where: Any) -> dict[str, str]:
        if isinstance(environment, Unknown) or not isinstance(environment, dict):
            self._problem(f"the environment of {address} is not known before apply", where)
            return {}
        result: dict[str, str] = {}
        for key, value in environment.items():
            if isinstance(value, Unknown) or not is_known(value):
                self._problem(f"environment variable {key} of {address} is known only after apply; "
                              f"devd leaves it unset (give it a literal value or a variable)", where)
                continue
            result[key] = to_string(value) if value is not None else ""
        return result

    def _code_dir(self, resource: ResourceInstance) -> str | None:
        filename = resource.get("filename")
        if isinstance(filename, Unknown):
            for address in sorted(filename.resource_addresses()):
                archive = self.resources.get(address)
                if archive is not None and archive.type == "archive_file":
                    return _archive_dir(archive)
        if isinstance(filename, str):
            for archive in self.resources.values():
                if archive.type == "archive_file" and archive.get("output_path") == filename:
                    return _archive_dir(archive)
            self._problem(f"{resource.address} deploys the prebuilt file {filename}; devd cannot map it back "
                          "to source (use an archive_file data source or source_path)", resource)
            return None
        if resource.get("s3_key") is not None:
            self._problem(f"{resource.address} takes its code from S3; devd cannot map it back to source", resource)
        return None

    def _problem(self, message: str, where: Any) -> None:
        if isinstance(where, ResourceInstance):
            self.loader.report(Problem(message, where.block.file, where.block.line))
        else:
            self.loader.report(Problem(message, where.file, where.line))


def _archive_dir(archive: ResourceInstance) -> str | None:
    source_dir = archive.get("source_dir")
    if isinstance(source_dir, str):
        return source_dir
    source_file = archive.get("source_file")
    if isinstance(source_file, str):
        return os.path.dirname(source_file) or "."
    return None


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

