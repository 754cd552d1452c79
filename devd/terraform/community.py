"""Built-in knowledge of community modules that are used without `terraform init`.

When `terraform-aws-modules/lambda/aws` is not fetched into `.terraform/modules`, devd still
knows what it creates from its documented inputs: one `aws_lambda_function.this[0]` (when
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
    def function_address(self) -> str:
        """Return the address of the function the module creates."""
        return f"{self.address}.aws_lambda_function.this[0]"

    def output(self, name: str, line: int) -> Any:
        """Return one of the module's outputs."""
        if name == "lambda_function_name":
            return self.input("function_name")
        if name in _LAMBDA_OUTPUTS:
            return Unknown(frozenset({f"{self.function_address}.{_LAMBDA_OUTPUTS[name]}"}))
        if name.startswith(("lambda_", "lambda_role", "lambda_cloudwatch")):
            return Unknown(reason=f"{self.address}.{name} is known only after apply")
        raise EvalError(f"module {self.address} ({self.source}) has no output {name!r}", line)


def registry_source(source: str) -> str:
    """Return a registry source without host, subdirectory or query: `ns/name/provider`."""
    source = source.split("?", 1)[0].split("//", 1)[0]
    return source.removeprefix("registry.terraform.io/")


def virtual_module_for(source: str, address: str, inputs: Mapping[str, Callable[[], Any]],
                       loader: "Loader") -> VirtualModule | None:
    """Return a modelled module for a known registry source, or None."""
    if registry_source(source) == LAMBDA_MODULE:
        return VirtualModule(source, address, inputs, loader)
    return None
