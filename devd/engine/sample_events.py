"""Events for the TUI's invoke key: a saved one from `.devd/events/`, or a sample request on the
function's first route."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from devd.inventory import Inventory
from devd.runtime.events import HttpRequest, build_event
from devd.runtime.routing import RouteMatch

EVENTS_DIR = "events"
"""Directory under `.devd/` with one saved event per function, named `<function name>.json`."""

SAMPLE_PARAMETER = "sample"
"""Value put into each path parameter of a sample event."""


def saved_event_path(state_dir: Path, function_name: str) -> Path:
    """Return where the saved event of a function lives."""
    return state_dir / EVENTS_DIR / f"{function_name}.json"


def event_for(inventory: Inventory, state_dir: Path, address: str) -> tuple[bytes, str]:
    """Return the event to invoke a function with and where it came from.

    A saved event wins. Otherwise the event is a GET (or the route's method) on the function's
    first route with every path parameter set to "sample", and `{}` for a function without routes.
    """
    function = inventory.function(address)
    name = function.name if function else address
    saved = saved_event_path(state_dir, name)
    if saved.is_file():
        return saved.read_bytes(), f"saved event {saved}"

    route = next((route for route in inventory.routes if route.function == address), None)
    if route is None:
        return b"{}", "an empty event (the function has no route)"

    parameters = {name: SAMPLE_PARAMETER for name in re.findall(r"\{([^}+]+)\+?\}", route.path)}
    path = re.sub(r"\{[^}]+\}", SAMPLE_PARAMETER, route.path) if route.path != "$default" else "/"
    method = "GET" if route.method in ("ANY", "$default") else route.method
    request = HttpRequest(method, path, "", (("content-type", "application/json"),), b"", "127.0.0.1")
    event = build_event(request, RouteMatch(route, parameters, path), request_id="devd-sample", now=time.time(),
                        account_id="123456789012")
    return json.dumps(event, indent=2).encode(), f"a sample {method} {path} event"


def save_event(state_dir: Path, function_name: str, event: bytes) -> Path:
    """Write an event as the function's saved event and return its path."""
    path = saved_event_path(state_dir, function_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(event)
    return path
