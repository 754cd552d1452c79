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
from pathlib import Path
from typing import Any, Mapping

from devd.errors import TerraformError
from devd.inventory import ApiKind, Function, Inventory, Layer, Problem, Route
from devd.terraform.exact_references import MAX_DEPTH, Instance, PlanIndex
from devd.terraform.routes import openapi_operations, parse_document

_S3_OBJECTS = ("aws_s3_object", "aws_s3_bucket_object")


def exact_inventory(plan: Mapping[str, Any], project_root: Path, root_dir: Path) -> Inventory:
    """Build the inventory (functions, layers, routes, problems) of a plan in `terraform show -json` format.

    `root_dir` is the directory in which terraform ran, against which the plan's relative paths
    resolve. `project_root` is the base of each function's `source`.
    """
    version = str(plan.get("format_version", ""))
    if version.split(".")[0] != "1":
        raise TerraformError(f"unsupported plan format_version {version!r}: devd reads format 1.x, "
                             "which Terraform 1.0 and newer print with `terraform show -json`")
    builder = _Builder(PlanIndex(plan), project_root.resolve(), root_dir.resolve())
    functions = builder.functions()
    layers = builder.layers()
    routes = builder.routes()
    return Inventory(tuple(functions), tuple(routes), tuple(builder.problems), tuple(layers))


class _Builder:
    """Turn the indexed plan into functions, layers and routes, collecting problems."""

    def __init__(self, index: PlanIndex, project_root: Path, root_dir: Path) -> None:
        self.index = index
        self.project_root = project_root
        self.root_dir = root_dir
        self.problems: list[Problem] = []
        self.by_address: dict[str, Function] = {}
        self.packages = self._load_packages()

    def _load_packages(self) -> dict[Path, Path]:
        from devd.config import load_packages
        from devd.errors import ConfigError

        try:
            return load_packages(self.project_root)
        except ConfigError as error:
            self.report(str(error))
            return {}

    def report(self, message: str) -> None:
        problem = Problem(message)
        if problem not in self.problems:
            self.problems.append(problem)

    def _of_type(self, type_name: str) -> list[Instance]:
        return [i for i in self.index.instances.values() if i.type == type_name and not i.local.startswith("data.")]

    def functions(self) -> list[Function]:
        functions = [self._function(instance) for instance in self._of_type("aws_lambda_function")]
        found = sorted((f for f in functions if f is not None), key=lambda f: f.address)
        self.by_address = {f.address: f for f in found}
        return found

    def _function(self, instance: Instance) -> Function | None:
        values, address = instance.values, instance.address
        name = values.get("function_name")
        if not isinstance(name, str) or not name:
            self.report(f"function_name of {address} is known only after apply; devd uses the address")
            name = address
        runtime, handler = values.get("runtime"), values.get("handler")
        image = values.get("package_type") == "Image"
        if not image and (not isinstance(runtime, str) or not isinstance(handler, str)):
            self.report(f"{address} has no known runtime or handler; set both as literals or variables")
            return None
        absolute = self._absolute(None if image else self._code_dir(instance))
        return Function(
            address=address, name=name, runtime=runtime if isinstance(runtime, str) else None,
            handler=handler if isinstance(handler, str) else None,
            code_dir=str(absolute) if absolute else None, source=self._relative(absolute),
            environment=self._environment(instance),
            timeout=self._number(instance, "timeout", 3), memory=self._number(instance, "memory_size", 128),
            architectures=self._architectures(instance), layers=self._layers_of(instance), runnable=not image,
            package=self._package(instance))

    def _package(self, instance: Instance) -> str | None:
        """Return the zip path of a function whose `filename` the [packages] table of devd.toml maps."""
        filename = instance.values.get("filename")
        if not isinstance(filename, str):
            return None
        path = (self.root_dir / filename).resolve()
        return str(path) if path in self.packages else None

    def _layers_of(self, instance: Instance) -> tuple[str, ...]:
        """Return the layers of a function: addresses for layer versions in the configuration, else ARNs."""
        values = instance.values.get("layers")
        if not isinstance(values, list):
            # NOTE: one ARN known only after apply makes the plan's whole list unknown, so the
            # ARNs of layers from outside the configuration are lost then.
            return tuple(dict.fromkeys(t.instance.address for t in self.index.targets(instance, "layers")
                                       if t.instance.type == "aws_lambda_layer_version"))
        by_arn = {layer.values.get("arn"): layer.address for layer in self._of_type("aws_lambda_layer_version")}
        return tuple(by_arn.get(value, value) for value in values if isinstance(value, str))

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

    def _environment(self, instance: Instance) -> dict[str, str]:
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

    def _number(self, instance: Instance, attribute: str, default: int) -> int:
        value = instance.values.get(attribute)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return int(value)
        if instance.unknown.get(attribute) is True:
            self.report(f"{attribute} of {instance.address} is known only after apply; devd uses {default}")
        return default

    def _architectures(self, instance: Instance) -> tuple[str, ...]:
        value = instance.values.get("architectures")
        if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
            return tuple(value)
        # Left unset, the provider plans it as unknown and Lambda applies its default, x86_64.
        if self.index.expression(instance, "architectures") is not None:
            self.report(f"architectures of {instance.address} is known only after apply; devd uses x86_64")
        return ("x86_64",)

    def _code_dir(self, instance: Instance) -> str | None:
        """Return the code directory of a function or layer, relative to the root module."""
        if self.index.expression(instance, "filename") is not None or instance.values.get("filename") is not None:
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

    def _from_zip(self, instance: Instance, attribute: str) -> str | None:
        """Return the directory of the archive_file behind a zip path: by reference, or by its output_path."""
        for target in self.index.targets(instance, attribute):
            if target.instance.type == "archive_file" and target.instance.local.startswith("data."):
                return self._archive_dir(target.instance)
        value = instance.values.get(attribute)
        if isinstance(value, str):
            for archive in self.index.instances.values():
                if archive.type == "archive_file" and archive.values.get("output_path") == value:
                    return self._archive_dir(archive)
            package = (self.root_dir / value).resolve()
            if package in self.packages:
                return os.path.relpath(self.packages[package], self.root_dir)
            self.report(f"{instance.address} deploys the prebuilt file {value} ({attribute}); devd cannot map it "
                        "back to source: add it to the [packages] table of devd.toml, such as "
                        '"dist/NAME.zip" = "functions/NAME", or package it with an archive_file data source')
        elif instance.unknown.get(attribute) is True:
            self.report(f"{attribute} of {instance.address} is known only after apply and names no archive_file")
        return None

    def _archive_dir(self, archive: Instance) -> str | None:
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

    def _target(self, instance: Instance, attribute: str, type_name: str,
                attributes: tuple[str, ...] = ("id",)) -> Instance | None:
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

    def _function_of(self, instance: Instance, attribute: str, depth: int = 0) -> str | None:
        """Return the function address an argument invokes: by reference, through aliases, or by name."""
        found: set[str] = set()
        for target in self.index.targets(instance, attribute):
            if target.instance.address in self.by_address:
                found.add(target.instance.address)
            elif target.instance.type == "aws_lambda_alias" and depth < MAX_DEPTH:
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
            is_proxy = integration.values.get("type") in ("AWS_PROXY", None)
            function = self._function_of(integration, "uri") if is_proxy else None
            if function is None and is_proxy:
                self.report(f"{integration.address} is a Lambda proxy integration whose function devd cannot find; "
                            "devd lists its route as not emulated")
            routes.append(Route(ApiKind.REST, api.address, method.upper(), path, "1.0", function,
                                stages.get(api.address)))
        return routes

    def _openapi_routes(self) -> list[Route]:
        """Return the routes of REST APIs defined by an OpenAPI `body`, when the plan contains the body."""
        stages = self._stages(("aws_api_gateway_stage", "aws_api_gateway_deployment"), "aws_api_gateway_rest_api",
                              "rest_api_id", "stage_name")
        routes: list[Route] = []
        for api in self._of_type("aws_api_gateway_rest_api"):
            if self.index.expression(api, "body") is None:
                continue
            document = parse_document(api.values.get("body"))
            if not isinstance(document, dict):
                self.report(f"the OpenAPI body of {api.address} is known only after apply or is not JSON or YAML; "
                            "exact mode cannot list its routes")
                continue
            for path, method, integration in openapi_operations(document):
                is_proxy = str(integration.get("type", "")).lower() == "aws_proxy"
                function = self._function_named(integration.get("uri")) if is_proxy else None
                if function is None and is_proxy:
                    self.report(f"{method} {path} of {api.address} is a Lambda proxy integration whose function "
                                "devd cannot find; devd lists it as not emulated")
                routes.append(Route(ApiKind.REST, api.address, method, path, "1.0", function, stages.get(api.address)))
        return routes

    def _rest_path(self, instance: Instance, attribute: str, seen: set[str]) -> str | None:
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
