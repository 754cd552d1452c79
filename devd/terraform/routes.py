"""Collect API Gateway routes (REST resource trees and HTTP API routes) from resource instances.

Resources refer to each other through values known only after apply (`rest_api_id`,
`parent_id`, `integration_uri`). Their Unknown references still name the resource, so a method
finds its API and an integration finds its function through them.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable

import yaml

from devd.inventory import ApiKind, Cors, Function, Problem, Route
from devd.terraform.modules import ResourceInstance
from devd.terraform.values import Unknown


class RouteCollector:
    """Find every route of every REST and HTTP API, with the function it invokes."""

    def __init__(self, resources: dict[str, ResourceInstance], functions: Iterable[Function],
                 report: Callable[[Problem], None], modules: Iterable[Any] = ()) -> None:
        self.resources = resources
        self.modules = list(modules)
        self.report = report
        self.by_address = {f.address: f for f in functions}
        self.by_name = {f.name: f for f in self.by_address.values()}
        self.aliases = {r.address: r for r in resources.values() if r.type == "aws_lambda_alias"}

    def collect(self) -> list[Route]:
        """Return all routes sorted by API, path and method."""
        routes = (self._rest_routes() + self._openapi_routes() + self._http_routes() + self._module_routes()
                  + self._function_urls())
        return sorted(routes, key=lambda r: (r.api.value, r.api_address, r.path, r.method))

    def _of_type(self, type_name: str) -> list[ResourceInstance]:
        return [r for r in self.resources.values() if r.type == type_name]

    def _target(self, value: Any, type_name: str, attributes: tuple[str, ...] = ("id",)) -> ResourceInstance | None:
        """Return the resource of a type that an Unknown value refers to."""
        if not isinstance(value, Unknown):
            return None
        for ref in sorted(value.refs):
            address, _, attribute = ref.rpartition(".")
            resource = self.resources.get(address)
            if resource is not None and resource.type == type_name and attribute in attributes:
                return resource
        return None

    def _function_of(self, uri: Any) -> str | None:
        """Return the function address an integration URI invokes, through aliases too."""
        if isinstance(uri, Unknown):
            for address in sorted(uri.resource_addresses()):
                if address in self.by_address:
                    return address
                alias = self.aliases.get(address)
                if alias is not None:
                    return self._function_of(alias.get("function_name"))
            uri = uri.pattern
        if isinstance(uri, str):
            for name, function in self.by_name.items():
                if f":function:{name}/" in uri or f":function:{name}:" in uri or uri == name:
                    return function.address
        return None

    def _rest_routes(self) -> list[Route]:
        stages = self._rest_stages()
        routes: list[Route] = []
        for integration in self._of_type("aws_api_gateway_integration"):
            api = self._target(integration.get("rest_api_id"), "aws_api_gateway_rest_api")
            if api is None:
                continue
            path = self._rest_path(integration.get("resource_id"), set())
            method = integration.get("http_method")
            if path is None or not isinstance(method, str):
                self._problem(f"cannot resolve the resource path or method of {integration.address}", integration)
                continue
            kind = integration.get("type")
            function = self._function_of(integration.get("uri")) if kind in ("AWS_PROXY", None) else None
            if function is None and kind in ("AWS_PROXY", None):
                self._problem(f"{integration.address} is a Lambda proxy integration whose function devd cannot "
                              "find; devd lists its route as not emulated", integration)
            routes.append(Route(ApiKind.REST, api.address, method.upper(), path, "1.0", function,
                                stages.get(api.address)))
        return routes

    def _rest_stages(self) -> dict[str, str]:
        stages: dict[str, str] = {}
        for stage in self._of_type("aws_api_gateway_stage") + self._of_type("aws_api_gateway_deployment"):
            api = self._target(stage.get("rest_api_id"), "aws_api_gateway_rest_api")
            name = stage.get("stage_name")
            if api is not None and isinstance(name, str) and api.address not in stages:
                stages[api.address] = name
        return stages

    def _rest_path(self, resource_id: Any, seen: set[str]) -> str | None:
        if self._target(resource_id, "aws_api_gateway_rest_api", ("root_resource_id",)) is not None:
            return "/"
        resource = self._target(resource_id, "aws_api_gateway_resource")
        if resource is None or resource.address in seen:
            return None
        seen.add(resource.address)
        parent = self._rest_path(resource.get("parent_id"), seen)
        part = resource.get("path_part")
        if parent is None or not isinstance(part, str):
            return None
        return parent.rstrip("/") + "/" + part

    def _http_routes(self) -> list[Route]:
        routes: list[Route] = []
        stages = self._http_stages()
        cors: dict[str, Cors | None] = {}
        for route in self._of_type("aws_apigatewayv2_route"):
            api = self._target(route.get("api_id"), "aws_apigatewayv2_api")
            key = route.get("route_key")
            if api is None or not isinstance(key, str):
                continue
            if api.get("protocol_type") == "WEBSOCKET":
                continue
            integration = self._target(route.get("target"), "aws_apigatewayv2_integration")
            function, version = None, "1.0"
            if integration is not None:
                function = self._function_of(integration.get("integration_uri"))
                version = integration.get("payload_format_version") or "1.0"
            if function is None:
                self._problem(f"{route.address} does not invoke a known Lambda function; "
                              "devd lists it as not emulated", route)
            method, _, path = key.partition(" ") if key != "$default" else ("ANY", "", "$default")
            if api.address not in cors:
                cors[api.address] = self._cors(api)
            routes.append(Route(ApiKind.HTTP, api.address, method.upper(), path, str(version), function,
                                stages.get(api.address, "$default"), cors[api.address]))
        return routes

    def _cors(self, api: ResourceInstance) -> Cors | None:
        blocks = api.nested("cors_configuration")
        if not blocks:
            return None
        cors = cors_from_block(blocks[0])
        if cors is None:
            self._problem(f"the cors_configuration of {api.address} is not known before apply; "
                          "devd sends no CORS headers for it", api)
        return cors

    def _http_stages(self) -> dict[str, str]:
        stages: dict[str, str] = {}
        for stage in self._of_type("aws_apigatewayv2_stage"):
            api = self._target(stage.get("api_id"), "aws_apigatewayv2_api")
            name = stage.get("name")
            if api is not None and isinstance(name, str) and api.address not in stages:
                stages[api.address] = name
        return stages

    def _openapi_routes(self) -> list[Route]:
        """Return the routes of REST APIs defined by an OpenAPI `body`."""
        stages = self._rest_stages()
        routes: list[Route] = []
        for api in self._of_type("aws_api_gateway_rest_api"):
            expr = api.block.attributes.get("body")
            if expr is None:
                continue
            document = parse_document(api.module.evaluate(expr, api.block, api.extra, documents=True))
            if not isinstance(document, dict):
                self._problem(f"the OpenAPI body of {api.address} is not known before apply or not JSON/YAML; "
                              "devd cannot list its routes", api)
                continue
            for path, method, integration in openapi_operations(document):
                function = None
                proxy = str(integration.get("type", "")).lower() == "aws_proxy"
                if proxy:
                    function = self._function_of(integration.get("uri"))
                if proxy and function is None:
                    self._problem(f"{method} {path} of {api.address} is a Lambda proxy integration whose function "
                                  "devd cannot find; devd lists it as not emulated", api)
                routes.append(Route(ApiKind.REST, api.address, method, path, "1.0", function, stages.get(api.address)))
        return routes

    def _module_routes(self) -> list[Route]:
        """Return the routes of `terraform-aws-modules/apigateway-v2/aws` calls that are not fetched."""
        routes: list[Route] = []
        for module in self.modules:
            if not module.creates_api:
                continue
            for route in module.routes():
                function = self._function_of(route.uri)
                routes.append(Route(ApiKind.HTTP, module.api_address, route.method, route.path,
                                    route.payload_version, function, "$default"))
        return routes

    def _function_urls(self) -> list[Route]:
        routes = []
        for url in self._of_type("aws_lambda_function_url"):
            function = self._function_of(url.get("function_name"))
            if function is None:
                continue
            routes.append(Route(ApiKind.HTTP, url.address, "ANY", "$default", "2.0", function, "$default"))
        return routes

    def _problem(self, message: str, resource: ResourceInstance) -> None:
        self.report(Problem(message, resource.block.file, resource.block.line))


_OPENAPI_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "x-amazon-apigateway-any-method"}


def parse_document(value: Any) -> Any:
    """Return a JSON or YAML document parsed from a string, a structure as it is, or None."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            try:
                return yaml.safe_load(value)
            except yaml.YAMLError:
                return None
    return value


def openapi_operations(document: dict) -> list[tuple[str, str, dict]]:
    """Return (path, method, integration) for each operation of an OpenAPI document."""
    found = []
    paths = document.get("paths")
    for path, operations in (paths.items() if isinstance(paths, dict) else []):
        for key, operation in (operations.items() if isinstance(operations, dict) else []):
            if key.lower() not in _OPENAPI_METHODS or not isinstance(operation, dict):
                continue
            method = "ANY" if key.lower() == "x-amazon-apigateway-any-method" else key.upper()
            integration = operation.get("x-amazon-apigateway-integration")
            found.append((path, method, integration if isinstance(integration, dict) else {}))
    return found


def cors_from_block(block: dict[str, Any]) -> Cors | None:
    """Return the Cors of an evaluated `cors_configuration` block, or None when a value is unknown."""
    lists = {}
    for name in ("allow_origins", "allow_methods", "allow_headers", "expose_headers"):
        value = block.get(name) or []
        if isinstance(value, Unknown) or not isinstance(value, (list, tuple)):
            return None
        lists[name] = tuple(str(item) for item in value)

    max_age = block.get("max_age")
    credentials = block.get("allow_credentials") or False
    if isinstance(max_age, Unknown) or isinstance(credentials, Unknown):
        return None
    return Cors(**lists, max_age=int(max_age) if max_age is not None else None,
                allow_credentials=credentials is True or str(credentials).lower() == "true")
