"""The inventory: functions and routes that the Terraform configuration defines.

These values are what every stage of devd shares: discovery produces them, builds, workers
and the gateway consume them, and the views print them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from typing import Mapping, Sequence


class ApiKind(str, Enum):
    """The API Gateway product that serves a route."""

    REST = "rest"
    """A REST API (`aws_api_gateway_rest_api`), which sends the v1 proxy event."""
    HTTP = "http"
    """An HTTP API (`aws_apigatewayv2_api`), whose integration chooses payload 1.0 or 2.0."""


@dataclass(frozen=True)
class Problem:
    """Something in the configuration that devd could not use, with where and what to do."""

    message: str
    file: str | None = None
    line: int | None = None
    syntax: bool = False
    """True when a whole file could not be parsed, so the inventory is missing its contents."""

    def __str__(self) -> str:
        if self.file and self.line:
            return f"{self.file}:{self.line}: {self.message}"
        if self.file:
            return f"{self.file}: {self.message}"
        return self.message


@dataclass(frozen=True)
class Function:
    """One Lambda function, with the values Terraform gives it.

    `runtime` and `handler` are None for container image functions, which have neither.

    `code_dir` is the directory whose contents Terraform packages (an `archive_file`
    `source_dir`, a `source_path` entry), absolute. `source` is the same path relative to the
    project root, as `devd ls` prints it.
    """

    address: str
    name: str
    runtime: str | None
    handler: str | None
    code_dir: str | None
    source: str | None
    environment: Mapping[str, str] = field(default_factory=dict)
    timeout: int = 3
    memory: int = 128
    architectures: tuple[str, ...] = ("x86_64",)
    layers: tuple[str, ...] = ()
    """Layer versions this function uses: addresses for layers in the configuration, ARNs for others."""
    runnable: bool = True
    """False for functions devd lists but cannot run locally, such as container images."""
    file: str | None = None
    line: int | None = None
    package: str | None = None
    """Absolute path of the zip that Terraform deploys, when the `[packages]` table of devd.toml
    maps it to `code_dir`. Every build of the function writes its zip there too."""
    log_group: str | None = None
    """The CloudWatch log group of `logging_config`, when set; None means `/aws/lambda/NAME`."""

    @property
    def language(self) -> str:
        """Return "node", "python" or "other", from the runtime identifier."""
        if not self.runtime:
            return "other"
        if self.runtime.startswith("nodejs"):
            return "node"
        if self.runtime.startswith("python"):
            return "python"
        return "other"


@dataclass(frozen=True)
class Layer:
    """A Lambda layer version and the directory Terraform packages for it."""

    address: str
    name: str
    code_dir: str | None
    source: str | None


@dataclass(frozen=True)
class Cors:
    """The `cors_configuration` of an HTTP API: what the gateway sends in CORS headers.

    Origins, methods and headers may contain "*". `max_age` is in seconds, None when unset.
    """

    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False


@dataclass(frozen=True)
class Route:
    """One method and path of an API, integrated with a Lambda function (or not emulated)."""

    api: ApiKind
    api_address: str
    method: str
    path: str
    payload_version: str
    function: str | None
    stage: str | None = None
    cors: Cors | None = None
    """The API's CORS configuration. Only HTTP APIs have one, because REST APIs leave CORS to routes."""

    @property
    def key(self) -> str:
        """Return the route key as API Gateway writes it, such as "GET /items/{id}"."""
        if self.path == "$default":
            return "$default"
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Inventory:
    """Everything discovery found, in a stable order."""

    functions: tuple[Function, ...] = ()
    routes: tuple[Route, ...] = ()
    problems: tuple[Problem, ...] = ()
    layers: tuple[Layer, ...] = ()

    def function(self, address: str) -> Function | None:
        """Return the function with this address, or None."""
        return self._by_address.get(address)

    @cached_property
    def _by_address(self) -> dict[str, Function]:
        return {function.address: function for function in reversed(self.functions)}


def match_functions(functions: Sequence[Function], name: str) -> list[Function]:
    """Return the functions a user means by `name`, most exact first.

    A Terraform address or a full function name matches exactly. Failing that, a name matches
    the functions whose name ends with it after a "-" or "_" (`get-hello` for
    `devd-example-dev-get-hello`), or whose module is named so (`get_hello`).
    """
    exact = [f for f in functions if name in (f.address, f.name)]
    if exact:
        return exact
    suffix = [f for f in functions if f.name.endswith(("-" + name, "_" + name))]
    if suffix:
        return suffix
    return [f for f in functions if f.address.startswith((f"module.{name}.", f"module.{name}["))]
