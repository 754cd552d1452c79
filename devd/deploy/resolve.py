"""Look up the function a user names, and the root resources that may belong to it, in the configuration."""

from __future__ import annotations

from devd.config import Settings
from devd.deploy.targets import COMPANION_TYPES, Companion
from devd.errors import ConfigError
from devd.inventory import Function, match_functions
from devd.terraform.discover import discover
from devd.terraform.loader import Loader, TerraformOptions
from devd.terraform.values import Unknown

_REFERRING_ARGUMENTS = ("function_name", "uri", "integration_uri", "qualifier")


def _options(settings: Settings) -> TerraformOptions:
    return TerraformOptions(settings.infra_dir, settings.var_files, settings.variables, settings.environ)


def find_function(settings: Settings, name: str) -> Function:
    """Return the function the user names (see `match_functions`); raise ConfigError naming the choices."""
    inventory = discover(_options(settings), settings.project_root)
    matches = match_functions(inventory.functions, name)
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(f.name for f in inventory.functions) or "none"
    if matches:
        addresses = ", ".join(f.address for f in matches)
        raise ConfigError(f"several functions are named {name!r} ({addresses}); name one by its address")
    raise ConfigError(f"no function named {name!r}; functions: {known}")


def companions(settings: Settings) -> list[Companion]:
    """Return each root module resource that may belong to one function, with what it refers to."""
    loader = Loader(_options(settings))
    found = []
    for resource in loader.resources(loader.root):
        if resource.type not in COMPANION_TYPES:
            continue
        references: set[str] = set()
        function_name = None
        for argument in _REFERRING_ARGUMENTS:
            value = resource.get(argument)
            if isinstance(value, Unknown):
                references |= value.resource_addresses()
            elif argument == "function_name" and isinstance(value, str):
                function_name = value
        found.append(Companion(resource.address, resource.type, frozenset(references), function_name))
    return found
