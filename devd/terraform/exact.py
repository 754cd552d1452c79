"""Build the inventory from a Terraform plan, as `terraform show -json` prints it (exact mode).

Attribute values come from `planned_values`, and from `prior_state` for data sources that
Terraform read during plan. Ids and ARNs are known only after apply, so the plan has no value
for `rest_api_id` or `integration_uri`. The links between resources come from `configuration`
instead: each expression lists the references it makes, relative to its module, and a
reference inside a module applies to every instance of that module. A reference that selects
an instance with `count.index` or `each.key` is listed without its key, so it resolves to the
instance with the referring block's own key.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

import yaml

from devd.errors import TerraformError
from devd.inventory import ApiKind, Function, Inventory, Layer, Problem, Route

Key = int | str | None

_STEP = re.compile(r'\.?(?:([A-Za-z_][\w-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\])')
_MAX_DEPTH = 32
_NOT_REFERENCES = ("local", "count", "each", "path", "terraform", "self")
_S3_OBJECTS = ("aws_s3_object", "aws_s3_bucket_object")
_OPENAPI_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "x-amazon-apigateway-any-method"}


@dataclass(frozen=True)
class _Index:
    """An instance key inside a reference or address: `[0]` or `["users"]`."""

    key: int | str


@dataclass(frozen=True)
class _Module:
    """A module instance: its parent's address, the call's name and the instance key."""

    parent: str
    call: str
    key: Key
    path: tuple[str, ...]
    """The module call names from the root, which select the module's configuration."""


@dataclass(frozen=True, eq=False)
class _Instance:
    """A resource or data source instance with its planned values."""

    address: str
    module: str
    local: str
    """The address inside its module without the key, such as `data.archive_file.this`."""
    type: str
    key: Key
    values: Mapping[str, Any]
    unknown: Mapping[str, Any]
    """`after_unknown` from the resource change: true where a value is known only after apply."""


@dataclass(frozen=True)
class _Target:
    """A resource instance that an expression refers to, and the attribute it reads (None when unnamed)."""

    instance: _Instance
    attribute: str | None


def exact_inventory(plan: Mapping[str, Any], project_root: Path, root_dir: Path) -> Inventory:
    """Return the functions, routes and problems that a plan in `terraform show -json` format describes.

    `root_dir` is the directory in which terraform ran, against which the plan's relative paths
    resolve; `project_root` is the base of each function's `source`.
    """
    version = str(plan.get("format_version", ""))
    if version.split(".")[0] != "1":
        raise TerraformError(f"unsupported plan format_version {version!r}: devd reads format 1.x, "
                             "which Terraform 1.0 and newer print with `terraform show -json`")
    builder = _Builder(_PlanIndex(plan), project_root.resolve(), root_dir.resolve())
    functions = builder.functions()
    layers = builder.layers()
    routes = builder.routes()
    return Inventory(tuple(functions), tuple(routes), tuple(builder.problems), tuple(layers))


class _PlanIndex:
    """The plan's instances, module instances and configuration, and the references between them."""

    def __init__(self, plan: Mapping[str, Any]) -> None:
        self.instances: dict[str, _Instance] = {}
        self.groups: dict[tuple[str, str], dict[Key, _Instance]] = {}
        self.modules: dict[str, _Module] = {}
        self.configs: dict[tuple[str, ...], Mapping[str, Any]] = {}
        self.resource_configs: dict[tuple[tuple[str, ...], str], Mapping[str, Any]] = {}
        unknown = {change.get("address"): (change.get("change") or {}).get("after_unknown") or {}
                   for change in plan.get("resource_changes") or []}

        prior = ((plan.get("prior_state") or {}).get("values") or {}).get("root_module") or {}
        for resource in _module_resources(prior):
            if resource.get("mode") == "data":
                self._add(resource, {})
        planned = (plan.get("planned_values") or {}).get("root_module") or {}
        for resource in _module_resources(planned):
            self._add(resource, unknown.get(resource.get("address"), {}))

        root_config = (plan.get("configuration") or {}).get("root_module") or {}
        self._add_config((), root_config)

    def _add(self, resource: Mapping[str, Any], unknown: Mapping[str, Any]) -> None:
        address = resource.get("address")
        steps = _steps(address) if isinstance(address, str) else None
        if not steps:
            return
        module, rest = self._register_module(steps)
        local = f"data.{resource['type']}.{resource['name']}" if resource.get("mode") == "data" \
            else f"{resource['type']}.{resource['name']}"
        key = rest[-1].key if rest and isinstance(rest[-1], _Index) else None
        instance = _Instance(address, module, local, resource["type"], key, resource.get("values") or {}, unknown)
        self.instances[address] = instance
        self.groups.setdefault((module, local), {})[key] = instance

    def _register_module(self, steps: list[str | _Index]) -> tuple[str, list[str | _Index]]:
        """Register the module instances an address passes through; return the innermost and the rest."""
        module, path = "", ()
        while len(steps) >= 2 and steps[0] == "module" and isinstance(steps[1], str):
            call = steps[1]
            key = steps[2].key if len(steps) > 2 and isinstance(steps[2], _Index) else None
            steps = steps[3:] if key is not None else steps[2:]
            path = path + (call,)
            child = _module_address(module, call, key)
            self.modules.setdefault(child, _Module(module, call, key, path))
            module = child
        return module, steps

    def _add_config(self, path: tuple[str, ...], config: Mapping[str, Any]) -> None:
        self.configs[path] = config
        for resource in config.get("resources") or []:
            self.resource_configs[(path, resource.get("address", ""))] = resource
        for name, call in (config.get("module_calls") or {}).items():
            self._add_config(path + (name,), call.get("module") or {})

    def path_of(self, module: str) -> tuple[str, ...]:
        return self.modules[module].path if module else ()

    def expression(self, instance: _Instance, attribute: str) -> Mapping[str, Any] | None:
        """Return the configuration expression of an instance's argument, or None when it is not set."""
        config = self.resource_configs.get((self.path_of(instance.module), instance.local)) or {}
        expression = (config.get("expressions") or {}).get(attribute)
        return expression if isinstance(expression, dict) else None

    def targets(self, instance: _Instance, attribute: str) -> list[_Target]:
        """Return the instances that the expression of an instance's argument refers to, in reference order."""
        expression = self.expression(instance, attribute) or {}
        return list(dict.fromkeys(self.resolve(expression.get("references") or [], instance.module, instance.key, 0)))

    def resolve(self, references: list[str], module: str, own_key: Key, depth: int) -> list[_Target]:
        """Return the instances that references made in a module instance lead to."""
        found: list[_Target] = []
        if depth > _MAX_DEPTH:
            return found
        for reference in references:
            steps = _steps(reference)
            if not steps or not isinstance(steps[0], str) or steps[0] in _NOT_REFERENCES or len(steps) < 2:
                continue
            if any(other.startswith(reference + "[") for other in references):
                continue
            if steps[0] == "var":
                found += self._variable(str(steps[1]), module, depth)
            elif steps[0] == "module":
                found += self._module_outputs(steps[1:], references, module, own_key, depth)
            elif steps[0] == "data" and len(steps) >= 3:
                found += self._resources(f"data.{steps[1]}.{steps[2]}", steps[3:], references, module, own_key)
            else:
                found += self._resources(f"{steps[0]}.{steps[1]}", steps[2:], references, module, own_key)
        return found

    def _variable(self, name: str, module: str, depth: int) -> list[_Target]:
        if not module:
            return []
        instance = self.modules[module]
        call = (self.configs.get(instance.path[:-1]) or {}).get("module_calls", {}).get(instance.call) or {}
        expression = (call.get("expressions") or {}).get(name)
        if not isinstance(expression, dict):
            return []
        return self.resolve(expression.get("references") or [], instance.parent, instance.key, depth + 1)

    def _module_outputs(self, steps: list[str | _Index], references: list[str], module: str, own_key: Key,
                        depth: int) -> list[_Target]:
        name, rest = str(steps[0]), steps[1:]
        children = {m.key: address for address, m in self.modules.items() if m.parent == module and m.call == name}
        if not children:
            children = self._module_without_resources(module, name)
        found: list[_Target] = []
        for child in _select(children, rest, references, own_key):
            rest_names = [step for step in rest if isinstance(step, str)]
            outputs = (self.configs.get(self.modules[child].path) or {}).get("outputs") or {}
            for output, body in outputs.items():
                if rest_names and rest_names[0] != output:
                    continue
                expression = (body or {}).get("expression") or {}
                found += self.resolve(expression.get("references") or [], child, None, depth + 1)
        return found

    def _module_without_resources(self, parent: str, name: str) -> dict[Key, str]:
        """Register the single instance of a module call that has no resources of its own in the plan."""
        path = self.path_of(parent) + (name,)
        call = (self.configs.get(path[:-1]) or {}).get("module_calls", {}).get(name)
        if call is None or "count_expression" in call or "for_each_expression" in call:
            return {}
        address = _module_address(parent, name, None)
        self.modules.setdefault(address, _Module(parent, name, None, path))
        return {None: address}

    def _resources(self, local: str, rest: list[str | _Index], references: list[str], module: str,
                   own_key: Key) -> list[_Target]:
        names = [step for step in rest if isinstance(step, str)]
        attribute = names[0] if names else None
        group = self.groups.get((module, local), {})
        return [_Target(instance, attribute) for instance in _select(group, rest, references, own_key)]


def _select(instances: Mapping[Key, Any], rest: list[str | _Index], references: list[str], own_key: Key) -> list[Any]:
    """Return the instances a reference selects: by its key, by the referrer's own key, or all of them."""
    if rest and isinstance(rest[0], _Index):
        chosen = instances.get(rest[0].key)
        return [chosen] if chosen is not None else []
    if list(instances) == [None]:
        return list(instances.values())
    uses_own_key = ("count.index" in references and isinstance(own_key, int)) or (
        "each.key" in references and isinstance(own_key, str))
    if uses_own_key and own_key in instances:
        return [instances[own_key]]
    return list(instances.values())


class _Builder:
    """Turn the indexed plan into functions, layers and routes, collecting problems."""

    def __init__(self, index: _PlanIndex, project_root: Path, root_dir: Path) -> None:
        self.index = index
        self.project_root = project_root
        self.root_dir = root_dir
        self.problems: list[Problem] = []
        self.by_address: dict[str, Function] = {}

    def report(self, message: str) -> None:
        problem = Problem(message)
        if problem not in self.problems:
            self.problems.append(problem)

    def _of_type(self, type_name: str) -> list[_Instance]:
        return [i for i in self.index.instances.values() if i.type == type_name and not i.local.startswith("data.")]

    def functions(self) -> list[Function]:
        functions = [self._function(instance) for instance in self._of_type("aws_lambda_function")]
        found = sorted((f for f in functions if f is not None), key=lambda f: f.address)
        self.by_address = {f.address: f for f in found}
        return found

    def _function(self, instance: _Instance) -> Function | None:
        values, address = instance.values, instance.address
        name = values.get("function_name")
        if not isinstance(name, str) or not name:
            self.report(f"function_name of {address} is known only after apply; devd uses the address")
            name = address
        runtime, handler = values.get("runtime"), values.get("handler")
        image = values.get("package_type") == "Image"
        if image:
            self.report(f"{address} is a container image function; devd lists it but cannot run it locally")
        elif not isinstance(runtime, str) or not isinstance(handler, str):
            self.report(f"{address} has no known runtime or handler; set both as literals or variables")
            return None
        absolute = self._absolute(None if image else self._code_dir(instance))
        return Function(
            address=address, name=name, runtime=runtime if isinstance(runtime, str) else "",
            handler=handler if isinstance(handler, str) else "",
            code_dir=str(absolute) if absolute else None, source=self._relative(absolute),
            environment=self._environment(instance),
            timeout=self._number(instance, "timeout", 3), memory=self._number(instance, "memory_size", 128),
            architectures=self._architectures(instance),
            layers=tuple(t.instance.address for t in self.index.targets(instance, "layers")
                         if t.instance.type == "aws_lambda_layer_version"),
            runnable=not image)

    def layers(self) -> list[Layer]:
        """Return every layer version, with the directory its zip comes from."""
        found = []
        for layer in self._of_type("aws_lambda_layer_version"):
            absolute = self._absolute(self._code_dir(layer))
            name = layer.values.get("layer_name")
            found.append(Layer(layer.address, name if isinstance(name, str) else layer.address,
                               str(absolute) if absolute else None, self._relative(absolute)))
        return sorted(found, key=lambda layer: layer.address)

    def _absolute(self, code_dir: str | None) -> Path | None:
        return (self.root_dir / code_dir).resolve() if code_dir is not None else None

    def _relative(self, absolute: Path | None) -> str | None:
        return os.path.relpath(absolute, self.project_root) if absolute else None

    def _environment(self, instance: _Instance) -> dict[str, str]:
        variables = _first(instance.values.get("environment")).get("variables") or {}
        unknown = _first(instance.unknown.get("environment")).get("variables")
        if unknown is True:
            self.report(f"the environment of {instance.address} is known only after apply (Terraform marks "
                        "the whole map unknown when one of its values is); exact mode leaves it empty")
            return {}
        late = sorted(k for k, v in unknown.items() if v is True) if isinstance(unknown, dict) else []
        for key in late:
            self.report(f"environment variable {key} of {instance.address} is known only after apply; "
                        "devd leaves it unset")
        return {k: _string(v) for k, v in variables.items() if k not in late}

    def _number(self, instance: _Instance, attribute: str, default: int) -> int:
        value = instance.values.get(attribute)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return int(value)
        if instance.unknown.get(attribute) is True:
            self.report(f"{attribute} of {instance.address} is known only after apply; devd uses {default}")
        return default

    def _architectures(self, instance: _Instance) -> tuple[str, ...]:
        value = instance.values.get("architectures")
        if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
            return tuple(value)
        # Left unset, the provider plans it as unknown and Lambda applies its default, x86_64.
        if self.index.expression(instance, "architectures") is not None:
            self.report(f"architectures of {instance.address} is known only after apply; devd uses x86_64")
        return ("x86_64",)

    def _code_dir(self, instance: _Instance) -> str | None:
        """Return the code directory of a function or layer, relative to the root module."""
        if self.index.expression(instance, "filename") is not None or "filename" in instance.values:
            return self._from_zip(instance, "filename")
        if self.index.expression(instance, "s3_key") is None and instance.values.get("s3_key") is None:
            return None
        candidates = [t.instance for t in self.index.targets(instance, "s3_key") if t.instance.type in _S3_OBJECTS]
        key = instance.values.get("s3_key")
        candidates += [o for o in self.index.instances.values()
                       if o.type in _S3_OBJECTS and key is not None and o.values.get("key") == key]
        if candidates:
            return self._from_zip(candidates[0], "source")
        self.report(f"{instance.address} takes its code from S3 key {key if key is not None else '(known after apply)'}"
                    ", which no aws_s3_object in this configuration uploads; devd cannot find its source")
        return None

    def _from_zip(self, instance: _Instance, attribute: str) -> str | None:
        """Return the directory of the archive_file behind a zip path: by reference, or by its output_path."""
        for target in self.index.targets(instance, attribute):
            if target.instance.type == "archive_file" and target.instance.local.startswith("data."):
                return self._archive_dir(target.instance)
        value = instance.values.get(attribute)
        if isinstance(value, str):
            for archive in self.index.instances.values():
                if archive.type == "archive_file" and archive.values.get("output_path") == value:
                    return self._archive_dir(archive)
            self.report(f"{instance.address} deploys the prebuilt file {value} ({attribute}); devd cannot map it "
                        "back to source (package it with an archive_file data source or source_path)")
        elif instance.unknown.get(attribute) is True:
            self.report(f"{attribute} of {instance.address} is known only after apply and names no archive_file")
        return None

    def _archive_dir(self, archive: _Instance) -> str | None:
        source_dir, source_file = archive.values.get("source_dir"), archive.values.get("source_file")
        if isinstance(source_dir, str):
            return source_dir
        if isinstance(source_file, str):
            return os.path.dirname(source_file) or "."
        self.report(f"{archive.address} has no source_dir or source_file that the plan knows, so devd "
                    "cannot tell which directory it packages")
        return None

    def routes(self) -> list[Route]:
        """Return all routes sorted by API, path and method, as devd's own evaluator orders them."""
        routes = self._rest_routes() + self._openapi_routes() + self._http_routes() + self._function_urls()
        return sorted(routes, key=lambda r: (r.api.value, r.api_address, r.path, r.method))

    def _target(self, instance: _Instance, attribute: str, type_name: str,
                attributes: tuple[str, ...] = ("id",)) -> _Instance | None:
        """Return the one instance of a type that an argument refers to, preferring named attributes."""
        targets = [t for t in self.index.targets(instance, attribute) if t.instance.type == type_name]
        named = {t.instance.address: t.instance for t in targets if t.attribute in attributes}
        unnamed = {t.instance.address: t.instance for t in targets if t.attribute is None}
        candidates = named or unnamed
        if len(candidates) > 1:
            self.report(f"{attribute} of {instance.address} refers to several instances of {type_name} "
                        f"({', '.join(sorted(candidates))}); exact mode cannot tell which one applies")
            return None
        return next(iter(candidates.values()), None)

    def _function_of(self, instance: _Instance, attribute: str, depth: int = 0) -> str | None:
        """Return the function address an argument invokes: by reference, through aliases, or by name."""
        found: set[str] = set()
        for target in self.index.targets(instance, attribute):
            if target.instance.address in self.by_address:
                found.add(target.instance.address)
            elif target.instance.type == "aws_lambda_alias" and depth < _MAX_DEPTH:
                through = self._function_of(target.instance, "function_name", depth + 1)
                found |= {through} if through else set()
        if len(found) > 1:
            self.report(f"{attribute} of {instance.address} refers to several functions ({', '.join(sorted(found))})"
                        "; exact mode cannot tell which one it invokes")
            return None
        if found:
            return found.pop()
        return self._function_named(instance.values.get(attribute))

    def _function_named(self, value: Any) -> str | None:
        if not isinstance(value, str):
            return None
        for function in self.by_address.values():
            name = function.name
            if f":function:{name}/" in value or f":function:{name}:" in value or value == name:
                return function.address
        return None

    def _rest_routes(self) -> list[Route]:
        stages = self._stages(("aws_api_gateway_stage", "aws_api_gateway_deployment"), "aws_api_gateway_rest_api",
                              "rest_api_id", "stage_name")
        routes: list[Route] = []
        for integration in self._of_type("aws_api_gateway_integration"):
            api = self._target(integration, "rest_api_id", "aws_api_gateway_rest_api")
            if api is None:
                continue
            path = self._rest_path(integration, "resource_id", set())
            method = integration.values.get("http_method")
            if path is None or not isinstance(method, str):
                self.report(f"cannot resolve the resource path or method of {integration.address} from the plan")
                continue
            kind = integration.values.get("type")
            function = self._function_of(integration, "uri") if kind in ("AWS_PROXY", None) else None
            if function is None:
                self.report(f"{integration.address} ({kind}) does not invoke a known Lambda function; "
                            "devd lists its route as not emulated")
            routes.append(Route(ApiKind.REST, api.address, method.upper(), path, "1.0", function,
                                stages.get(api.address)))
        return routes

    def _openapi_routes(self) -> list[Route]:
        """Return the routes of REST APIs defined by an OpenAPI `body`, when the plan knows the body."""
        stages = self._stages(("aws_api_gateway_stage", "aws_api_gateway_deployment"), "aws_api_gateway_rest_api",
                              "rest_api_id", "stage_name")
        routes: list[Route] = []
        for api in self._of_type("aws_api_gateway_rest_api"):
            if self.index.expression(api, "body") is None:
                continue
            document = _parse_document(api.values.get("body"))
            if not isinstance(document, dict):
                self.report(f"the OpenAPI body of {api.address} is known only after apply or is not JSON or YAML; "
                            "exact mode cannot list its routes")
                continue
            for path, method, integration in _operations(document):
                is_proxy = str(integration.get("type", "")).lower() == "aws_proxy"
                function = self._function_named(integration.get("uri")) if is_proxy else None
                if function is None:
                    self.report(f"{method} {path} of {api.address} does not invoke a known Lambda function; "
                                "devd lists it as not emulated")
                routes.append(Route(ApiKind.REST, api.address, method, path, "1.0", function, stages.get(api.address)))
        return routes

    def _rest_path(self, instance: _Instance, attribute: str, seen: set[str]) -> str | None:
        if self._target(instance, attribute, "aws_api_gateway_rest_api", ("root_resource_id",)) is not None:
            return "/"
        resource = self._target(instance, attribute, "aws_api_gateway_resource")
        if resource is None or resource.address in seen:
            return None
        seen.add(resource.address)
        parent = self._rest_path(resource, "parent_id", seen)
        part = resource.values.get("path_part")
        if parent is None or not isinstance(part, str):
            return None
        return parent.rstrip("/") + "/" + part

    def _http_routes(self) -> list[Route]:
        stages = self._stages(("aws_apigatewayv2_stage",), "aws_apigatewayv2_api", "api_id", "name")
        routes: list[Route] = []
        for route in self._of_type("aws_apigatewayv2_route"):
            api = self._target(route, "api_id", "aws_apigatewayv2_api")
            key = route.values.get("route_key")
            if api is None or not isinstance(key, str) or api.values.get("protocol_type") == "WEBSOCKET":
                continue
            integration = self._target(route, "target", "aws_apigatewayv2_integration")
            function, version = None, "1.0"
            if integration is not None:
                function = self._function_of(integration, "integration_uri")
                version = integration.values.get("payload_format_version") or "1.0"
            if function is None:
                self.report(f"{route.address} does not invoke a known Lambda function; devd lists it as not emulated")
            method, _, path = key.partition(" ") if key != "$default" else ("ANY", "", "$default")
            routes.append(Route(ApiKind.HTTP, api.address, method.upper(), path, str(version), function,
                                stages.get(api.address, "$default")))
        return routes

    def _stages(self, stage_types: tuple[str, ...], api_type: str, api_attribute: str, name_attribute: str) -> dict[str, str]:
        stages: dict[str, str] = {}
        for stage in (s for type_name in stage_types for s in self._of_type(type_name)):
            api = self._target(stage, api_attribute, api_type)
            name = stage.values.get(name_attribute)
            if api is not None and isinstance(name, str) and api.address not in stages:
                stages[api.address] = name
        return stages

    def _function_urls(self) -> list[Route]:
        routes = []
        for url in self._of_type("aws_lambda_function_url"):
            function = self._function_of(url, "function_name")
            if function is not None:
                routes.append(Route(ApiKind.HTTP, url.address, "ANY", "$default", "2.0", function, "$default"))
        return routes


def _module_resources(module: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Yield the resources of a module in `planned_values` or state form and of its child modules."""
    yield from module.get("resources") or []
    for child in module.get("child_modules") or []:
        yield from _module_resources(child)


def _steps(text: str) -> list[str | _Index] | None:
    """Split an address or reference such as `module.api["a"].aws_x.y[0].id` into names and keys."""
    steps: list[str | _Index] = []
    position = 0
    while position < len(text):
        match = _STEP.match(text, position)
        if match is None or match.end() == position:
            return None
        name, number, quoted = match.groups()
        if name is not None:
            steps.append(name)
        elif number is not None:
            steps.append(_Index(int(number)))
        else:
            steps.append(_Index(json.loads(quoted)))
        position = match.end()
    return steps


def _module_address(parent: str, call: str, key: Key) -> str:
    base = f"{parent}.module.{call}" if parent else f"module.{call}"
    if key is None:
        return base
    if isinstance(key, int):
        return f"{base}[{key}]"
    return f"{base}[{json.dumps(key, ensure_ascii=False)}]"


def _parse_document(value: Any) -> Any:
    if not isinstance(value, str):
        return None
    try:
        return json.loads(value)
    except ValueError:
        pass
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError:
        return None


def _operations(document: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """Yield the path, method and `x-amazon-apigateway-integration` of each operation of an OpenAPI document."""
    paths = document.get("paths")
    for path, operations in (paths.items() if isinstance(paths, dict) else []):
        for key, operation in (operations.items() if isinstance(operations, dict) else []):
            if key.lower() not in _OPENAPI_METHODS or not isinstance(operation, dict):
                continue
            method = "ANY" if key.lower() == "x-amazon-apigateway-any-method" else key.upper()
            integration = operation.get("x-amazon-apigateway-integration")
            yield path, method, integration if isinstance(integration, dict) else {}


def _first(items: Any) -> dict[str, Any]:
    if isinstance(items, list) and items and isinstance(items[0], dict):
        return items[0]
    return {}


def _string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)
