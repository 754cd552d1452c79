"""Built-in knowledge of community modules that are used without `terraform init`.

When `terraform-aws-modules/lambda/aws` is not fetched into `.terraform/modules`, devd still
models what it creates from its documented inputs: one `aws_lambda_function.this[0]` (when
`create` and `create_function` are true) whose code is the first `source_path` entry,
resolved from the directory Terraform runs in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping

from devd.terraform.values import EvalError, Unknown

if TYPE_CHECKING:
    from devd.terraform.loader import Loader

LAMBDA_MODULE = "terraform-aws-modules/lambda/aws"

_LAMBDA_DEFAULTS: dict[str, Any] = {
    "create": True,
    "create_function": True,
    "create_layer": False,
    "function_name": "",
    "handler": "",
    "runtime": "",
    "timeout": 3,
    "memory_size": 128,
    "architectures": None,
    "environment_variables": {},
    "source_path": None,
    "local_existing_package": None,
    "package_type": "Zip",
    "layers": None,
    "layer_name": "",
}

_LAMBDA_OUTPUTS = {
    "lambda_function_arn": "arn",
    "lambda_function_invoke_arn": "invoke_arn",
    "lambda_function_qualified_arn": "qualified_arn",
    "lambda_function_qualified_invoke_arn": "qualified_invoke_arn",
    "lambda_function_version": "version",
    "lambda_function_url": "function_url",
}


@dataclass
class VirtualModule:
    """A module instance that devd models from known inputs instead of reading its files."""

    source: str
    address: str
    inputs: Mapping[str, Callable[[], Any]]
    loader: "Loader"
    file: str | None = None
    line: int | None = None

    def input(self, name: str) -> Any:
        """Return an input's value, or the module's documented default."""
        if name in self.inputs:
            return self.inputs[name]()
        return _LAMBDA_DEFAULTS.get(name)

    @property
    def creates_function(self) -> bool:
        """Return True when the inputs ask for a function (not only a layer)."""
        wanted = [self.input("create"), self.input("create_function")]
        return all(value is True for value in wanted) and self.input("create_layer") is not True

    @property
    def creates_layer(self) -> bool:
        """Return True when the inputs ask for a layer version."""
        return self.input("create") is True and self.input("create_layer") is True

    @property
    def layer_address(self) -> str:
        """Return the address of the layer version the module creates."""
        return f"{self.address}.aws_lambda_layer_version.this[0]"

    @property
    def function_address(self) -> str:
        """Return the address of the function the module creates."""
        return f"{self.address}.aws_lambda_function.this[0]"

    def output(self, name: str, line: int) -> Any:
        """Return one of the module's outputs."""
        if name == "lambda_function_name":
            return self.input("function_name")
        if name in _LAMBDA_OUTPUTS:
            return Unknown(frozenset({f"{self.function_address}.{_LAMBDA_OUTPUTS[name]}"}))
        if name in ("lambda_layer_arn", "lambda_layer_layer_arn", "lambda_layer_version"):
            return Unknown(frozenset({f"{self.layer_address}.arn"}))
        if name.startswith(("lambda_", "lambda_role", "lambda_cloudwatch")):
            return Unknown(reason=f"{self.address}.{name} is known only after apply")
        raise EvalError(f"module {self.address} ({self.source}) has no output {name!r}", line)


APIGATEWAY_V2_MODULE = "terraform-aws-modules/apigateway-v2/aws"


@dataclass(frozen=True)
class ModuleRoute:
    """One route that a modelled API module creates, before its function is resolved."""

    method: str
    path: str
    uri: Any
    payload_version: str


@dataclass
class VirtualApiModule:
    """`terraform-aws-modules/apigateway-v2/aws` when it is not fetched.

    Version 5 takes `routes = { "GET /x" = { integration = { uri = ARN, ... } } }`; versions 2
    to 4 take `integrations = { "GET /x" = { lambda_arn = ARN, ... } }`. Both are read.
    """

    source: str
    address: str
    inputs: Mapping[str, Callable[[], Any]]
    loader: "Loader"
    file: str | None = None
    line: int | None = None

    def input(self, name: str, default: Any = None) -> Any:
        """Return an input's value, or default when the call does not set it."""
        return self.inputs[name]() if name in self.inputs else default

    @property
    def api_address(self) -> str:
        """Return the address of the API the module creates."""
        return f"{self.address}.aws_apigatewayv2_api.this[0]"

    @property
    def creates_api(self) -> bool:
        """Return True unless `create` (or `create_api_gateway` before version 5) is false."""
        return self.input("create", True) is not False and self.input("create_api_gateway", True) is not False

    def routes(self) -> list[ModuleRoute]:
        """Return the routes of the `routes` (v5) or `integrations` (v2 to v4) input."""
        found = []
        for key, settings in _map(self.input("routes")).items():
            integration = _map(_map(settings).get("integration"))
            found.append(_module_route(key, integration.get("uri") or integration.get("lambda_arn"),
                                       integration.get("payload_format_version")))
        for key, settings in _map(self.input("integrations")).items():
            settings = _map(settings)
            found.append(_module_route(key, settings.get("lambda_arn") or settings.get("integration_uri"),
                                       settings.get("payload_format_version")))
        return found

    def output(self, name: str, line: int) -> Any:
        """Return one of the module's outputs (all known only after apply)."""
        return Unknown(frozenset({f"{self.api_address}.{name.removeprefix('api_')}"}))


def _map(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _module_route(key: str, uri: Any, version: Any) -> ModuleRoute:
    if key == "$default":
        return ModuleRoute("ANY", "$default", uri, str(version or "1.0"))
    method, _, path = key.partition(" ")
    return ModuleRoute(method.upper(), path, uri, str(version or "1.0"))


def registry_source(source: str) -> str:
    """Return a registry source without host, subdirectory or query: `ns/name/provider`."""
    source = source.split("?", 1)[0].split("//", 1)[0]
    return source.removeprefix("registry.terraform.io/")


def virtual_module_for(source: str, address: str, inputs: Mapping[str, Callable[[], Any]],
                       loader: "Loader", file: str | None = None,
                       line: int | None = None) -> VirtualModule | VirtualApiModule | None:
    """Return a modelled module for a known registry source, or None."""
    if registry_source(source) == LAMBDA_MODULE:
        return VirtualModule(source, address, inputs, loader, file, line)
    if registry_source(source) == APIGATEWAY_V2_MODULE:
        return VirtualApiModule(source, address, inputs, loader, file, line)
    return None
