"""Read a saved plan, as `terraform show -json PLAN` prints it, into the changes a user confirms."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from devd.deploy.model import ResourceChange
from devd.errors import TerraformError


def plan_changes(document: Mapping[str, Any]) -> tuple[ResourceChange, ...]:
    """Return each resource the plan creates, updates, deletes or replaces, in plan order.

    Terraform writes a replacement as the actions ["delete", "create"] or ["create", "delete"]
    (create_before_destroy); both become "replace". No-op and read actions are left out.
    """
    changes = document.get("resource_changes")
    if changes is None:
        return ()
    if not isinstance(changes, list):
        raise TerraformError("`terraform show -json` printed resource_changes that is not a list")

    found = []
    for change in changes:
        actions = tuple(change.get("change", {}).get("actions", ()))
        action = _action(actions)
        if action is not None:
            found.append(ResourceChange(change.get("address", "?"), action))
    return tuple(found)


def _action(actions: tuple[str, ...]) -> str | None:
    if set(actions) == {"delete", "create"}:
        return "replace"
    if len(actions) == 1 and actions[0] in ("create", "update", "delete"):
        return actions[0]
    return None


def summary_line(changes: tuple[ResourceChange, ...]) -> str:
    """Return "2 to add, 1 to change, 0 to destroy", counting a replacement as one add and one destroy."""
    add = sum(1 for c in changes if c.action in ("create", "replace"))
    change = sum(1 for c in changes if c.action == "update")
    destroy = sum(1 for c in changes if c.action in ("delete", "replace"))
    return f"{add} to add, {change} to change, {destroy} to destroy"
