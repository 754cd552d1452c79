"""Index a Terraform plan's instances and resolve the references of its configuration.

A reference such as `aws_lambda_function.fn.invoke_arn`, written inside a module, names a
resource relative to that module, and applies to each instance of the module. A reference
that selects an instance with `count.index` or `each.key` is listed without its key, so it
resolves to the instance with the referring block's own key.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

Key = int | str | None

_STEP = re.compile(r'\.?(?:([A-Za-z_][\w-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\])')
MAX_DEPTH = 32
"""Maximum depth of reference chains (aliases, module outputs) that devd follows."""
_NOT_REFERENCES = ("local", "count", "each", "path", "terraform", "self")

@dataclass(frozen=True)
class IndexStep:
    """An instance key inside a reference or address: `[0]` or `["users"]`."""

    key: int | str


@dataclass(frozen=True)
class PlanModule:
    """A module instance: its parent's address, the call's name and the instance key."""

    parent: str
    call: str
    key: Key
    path: tuple[str, ...]
    """The module call names from the root, which select the module's configuration."""


@dataclass(frozen=True, eq=False)
class Instance:
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
class Target:
    """A resource instance that an expression refers to, and the attribute it reads (None when unnamed)."""

    instance: Instance
    attribute: str | None


class PlanIndex:
    """The plan's instances, module instances and configuration, and the references between them."""

    def __init__(self, plan: Mapping[str, Any]) -> None:
        self.instances: dict[str, Instance] = {}
        self.groups: dict[tuple[str, str], dict[Key, Instance]] = {}
        self.modules: dict[str, PlanModule] = {}
        self.configs: dict[tuple[str, ...], Mapping[str, Any]] = {}
        self.resource_configs: dict[tuple[tuple[str, ...], str], Mapping[str, Any]] = {}
        unknown = {change.get("address"): (change.get("change") or {}).get("after_unknown") or {}
                   for change in plan.get("resource_changes") or []}

        prior = ((plan.get("prior_state") or {}).get("values") or {}).get("root_module") or {}
        for resource in module_resources(prior):
            if resource.get("mode") == "data":
                self._add(resource, {})
        planned = (plan.get("planned_values") or {}).get("root_module") or {}
        for resource in module_resources(planned):
            self._add(resource, unknown.get(resource.get("address"), {}))

        root_config = (plan.get("configuration") or {}).get("root_module") or {}
        self._add_config((), root_config)

    def _add(self, resource: Mapping[str, Any], unknown: Mapping[str, Any]) -> None:
        address = resource.get("address")
        steps = address_steps(address) if isinstance(address, str) else None
        if not steps:
            return
        module, rest = self._register_module(steps)
        local = f"data.{resource['type']}.{resource['name']}" if resource.get("mode") == "data" \
            else f"{resource['type']}.{resource['name']}"
        key = rest[-1].key if rest and isinstance(rest[-1], IndexStep) else None
        instance = Instance(address, module, local, resource["type"], key, resource.get("values") or {}, unknown)
        self.instances[address] = instance
        self.groups.setdefault((module, local), {})[key] = instance

    def _register_module(self, steps: list[str | IndexStep]) -> tuple[str, list[str | IndexStep]]:
        """Register the module instances an address passes through, and return the innermost and the rest."""
        module, path = "", ()
        while len(steps) >= 2 and steps[0] == "module" and isinstance(steps[1], str):
            call = steps[1]
            key = steps[2].key if len(steps) > 2 and isinstance(steps[2], IndexStep) else None
            steps = steps[3:] if key is not None else steps[2:]
            path = path + (call,)
            child = module_address(module, call, key)
            self.modules.setdefault(child, PlanModule(module, call, key, path))
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

    def expression(self, instance: Instance, attribute: str) -> Mapping[str, Any] | None:
        """Return the configuration expression of an instance's argument, or None when it is not set."""
        config = self.resource_configs.get((self.path_of(instance.module), instance.local)) or {}
        expression = (config.get("expressions") or {}).get(attribute)
        return expression if isinstance(expression, dict) else None

    def targets(self, instance: Instance, attribute: str) -> list[Target]:
        """Return the instances that the expression of an instance's argument refers to, in reference order."""
        config = self.resource_configs.get((self.path_of(instance.module), instance.local)) or {}
        expression = (config.get("expressions") or {}).get(attribute)
        references = _with_each_value(expression, config)
        return list(dict.fromkeys(self.resolve(references, instance.module, instance.key, 0)))

    def resolve(self, references: list[str], module: str, own_key: Key, depth: int) -> list[Target]:
        """Return the instances that references made in a module instance lead to."""
        found: list[Target] = []
        if depth > MAX_DEPTH:
            return found
        for reference in references:
            steps = address_steps(reference)
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

    def _variable(self, name: str, module: str, depth: int) -> list[Target]:
        if not module:
            return []
        instance = self.modules[module]
        call = (self.configs.get(instance.path[:-1]) or {}).get("module_calls", {}).get(instance.call) or {}
        references = _with_each_value((call.get("expressions") or {}).get(name), call)
        return self.resolve(references, instance.parent, instance.key, depth + 1)

    def _module_outputs(self, steps: list[str | IndexStep], references: list[str], module: str, own_key: Key,
                        depth: int) -> list[Target]:
        name, rest = str(steps[0]), steps[1:]
        children = {m.key: address for address, m in self.modules.items() if m.parent == module and m.call == name}
        if not children:
            children = self._module_without_resources(module, name)
        found: list[Target] = []
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
        address = module_address(parent, name, None)
        self.modules.setdefault(address, PlanModule(parent, name, None, path))
        return {None: address}

    def _resources(self, local: str, rest: list[str | IndexStep], references: list[str], module: str,
                   own_key: Key) -> list[Target]:
        names = [step for step in rest if isinstance(step, str)]
        attribute = names[0] if names else None
        group = self.groups.get((module, local), {})
        return [Target(instance, attribute) for instance in _select(group, rest, references, own_key)]


def _with_each_value(expression: Any, block: Mapping[str, Any]) -> list[str]:
    """Return an expression's references, plus the block's for_each references when it reads `each.value`.

    With `for_each = aws_lambda_function.fn`, `each.value.invoke_arn` is the instance of fn with
    the block's own key, which `each.key` selects.
    """
    references = list(expression.get("references") or []) if isinstance(expression, dict) else []
    if any(r == "each.value" or r.startswith("each.value.") for r in references):
        for_each = block.get("for_each_expression")
        references += list(for_each.get("references") or []) + ["each.key"] if isinstance(for_each, dict) else []
    return references


def _select(instances: Mapping[Key, Any], rest: list[str | IndexStep], references: list[str], own_key: Key) -> list[Any]:
    """Return the instances a reference selects: by its key, by the referrer's own key, or all of them."""
    if rest and isinstance(rest[0], IndexStep):
        chosen = instances.get(rest[0].key)
        return [chosen] if chosen is not None else []
    if list(instances) == [None]:
        return list(instances.values())
    uses_own_key = ("count.index" in references and isinstance(own_key, int)) or (
        "each.key" in references and isinstance(own_key, str))
    if uses_own_key and own_key in instances:
        return [instances[own_key]]
    return list(instances.values())


def module_resources(module: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Yield the resources of a module in `planned_values` or state form and of its child modules."""
    yield from module.get("resources") or []
    for child in module.get("child_modules") or []:
        yield from module_resources(child)


def address_steps(text: str) -> list[str | IndexStep] | None:
    """Split an address or reference such as `module.api["a"].aws_x.y[0].id` into names and keys."""
    steps: list[str | IndexStep] = []
    position = 0
    while position < len(text):
        match = _STEP.match(text, position)
        if match is None or match.end() == position:
            return None
        name, number, quoted = match.groups()
        if name is not None:
            steps.append(name)
        elif number is not None:
            steps.append(IndexStep(int(number)))
        else:
            steps.append(IndexStep(json.loads(quoted)))
        position = match.end()
    return steps


def module_address(parent: str, call: str, key: Key) -> str:
    base = f"{parent}.module.{call}" if parent else f"module.{call}"
    if key is None:
        return base
    if isinstance(key, int):
        return f"{base}[{key}]"
    return f"{base}[{json.dumps(key, ensure_ascii=False)}]"
