"""Choose the `-target` addresses that deploy one function and nothing else.

A function inside a module is deployed with the innermost module instance that contains it
(`module.get_hello`, `module.fns["users"]`, `module.workers[1]`), so the API resources and
permissions that the module creates beside it go with it. A function in the root module is
deployed with the resources that exist for it alone: its invoke permissions, the API Gateway
integrations that call it and its function URL. Terraform adds what the targets depend on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from devd.errors import ConfigError

COMPANION_TYPES = frozenset({
    "aws_lambda_permission", "aws_lambda_function_url", "aws_api_gateway_integration",
    "aws_apigatewayv2_integration",
})
"""Root resource types deployed together with the function they reference."""


@dataclass(frozen=True)
class Companion:
    """A resource that may belong to one function: its address, type, and how it names functions."""

    address: str
    type: str
    references: frozenset[str] = frozenset()
    """Addresses of the resources that its arguments refer to."""
    function_name: str | None = None
    """The known value of its `function_name` argument, for permissions and URLs."""


def split_address(address: str) -> list[str]:
    """Split a Terraform address at the dots outside brackets and quotes.

    `module.fns["a.b"].aws_lambda_function.this` gives
    `["module", 'fns["a.b"]', "aws_lambda_function", "this"]`.
    """
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    quoted = False
    escaped = False
    for character in address:
        if quoted:
            current.append(character)
            if escaped:
                escaped = False
            elif character == "\\":
                escaped = True
            elif character == '"':
                quoted = False
            continue
        if character == '"':
            quoted = True
        elif character == "[":
            depth += 1
        elif character == "]":
            depth -= 1
        elif character == "." and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(character)
    parts.append("".join(current))
    return parts


def module_instance(address: str) -> str | None:
    """Return the innermost module instance in a resource address, or None for a root resource."""
    parts = split_address(address)
    end = 0
    index = 0
    while index + 1 < len(parts) and parts[index] == "module":
        index += 2
        end = index
    return ".".join(parts[:end]) if end else None


def function_targets(address: str, name: str, companions: Sequence[Companion],
                     extra: Sequence[str] = ()) -> tuple[str, ...]:
    """Return the targets that deploy one function: its module instance, or itself and its companions.

    `name` is the function's `function_name`, which permissions and URLs often repeat as a
    known string instead of a reference. `extra` addresses (from devd.toml) come last.
    """
    module = module_instance(address)
    if module is not None:
        targets = [module]
    else:
        targets = [address]
        for companion in sorted(companions, key=lambda c: c.address):
            if companion.type in COMPANION_TYPES and module_instance(companion.address) is None \
                    and _belongs_to(companion, address, name):
                targets.append(companion.address)
    for item in extra:
        if item not in targets:
            targets.append(item)
    return tuple(targets)


def _belongs_to(companion: Companion, address: str, name: str) -> bool:
    if address in companion.references:
        return True
    return companion.function_name is not None and companion.function_name == name


def extra_targets(table: Mapping[str, Sequence[str]], address: str, name: str) -> tuple[str, ...]:
    """Return the extra targets that devd.toml's `[deploy.targets]` sets for a function, by name or address."""
    return tuple(table.get(address, ())) + tuple(t for t in table.get(name, ()) if t not in table.get(address, ()))


def target_arguments(targets: Sequence[str]) -> list[str]:
    """Return one `-target=ADDRESS` argument per target, for an argument list (no shell quoting)."""
    for target in targets:
        if not target or "\n" in target:
            raise ConfigError(f"invalid Terraform target {target!r}: write a resource or module address")
    return [f"-target={target}" for target in targets]
