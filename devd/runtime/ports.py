"""Port assignment of APIs, and the local URL of each route.

One port serves every API by default. An API gets a port of its own when it claims a method and
path that an earlier API (by Terraform address) already claims on the main port. That port is
the one configured for it in `[ports]` of devd.toml, else the next port after the main one that
no other API uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from devd.inventory import ApiKind, Route

DEFAULT_ROUTE_PATH = "$default"
DEFAULT_STAGE = "$default"


@dataclass(frozen=True)
class PortGroup:
    """APIs served together on one port. `port` 0 lets the system choose a free port."""

    port: int
    apis: frozenset[str]
    main: bool = False
    configured: bool = False
    """True when devd.toml sets the port, so no other port may be used in its place."""

    @property
    def key(self) -> str:
        """A name that stays the same while the group serves the same APIs on the same port."""
        if self.main:
            return "main"
        return f"{self.port}:{','.join(sorted(self.apis))}"


def plan_ports(routes: Sequence[Route], main_port: int, configured: Mapping[str, int]) -> tuple[PortGroup, ...]:
    """Group the APIs of `routes` by port. The main group comes first and may have no API."""
    apis = sorted({route.api_address for route in routes})
    by_api: dict[str, list[Route]] = {api: [] for api in apis}
    for route in routes:
        by_api[route.api_address].append(route)

    main: set[str] = set()
    claimed: set[tuple[str, str]] = set()
    own: dict[str, int | None] = {}
    for api in apis:
        claims = {claim for route in by_api[api] for claim in _claims(route)}
        port = configured.get(api)
        if port is not None and port != main_port:
            own[api] = port
        elif port is None and claims & claimed:
            own[api] = None
        else:
            main.add(api)
            claimed |= claims

    return (PortGroup(main_port, frozenset(main), main=True), *_own_groups(own, main_port, configured))


def _own_groups(own: dict[str, int | None], main_port: int, configured: Mapping[str, int]) -> list[PortGroup]:
    """Give each API without a configured port the next unused port after the main one."""
    groups: dict[int, set[str]] = {}
    for api, port in own.items():
        if port is not None:
            groups.setdefault(port, set()).add(api)

    result = [PortGroup(port, frozenset(group), configured=True) for port, group in sorted(groups.items())]
    used = {main_port, *groups}
    candidate = main_port
    for api, port in own.items():
        if port is not None:
            continue
        if main_port == 0:
            result.append(PortGroup(0, frozenset({api})))
            continue
        candidate += 1
        while candidate in used or candidate in configured.values():
            candidate += 1
        used.add(candidate)
        result.append(PortGroup(candidate, frozenset({api})))
    return result


def _claims(route: Route) -> Iterable[tuple[str, str]]:
    """Return the (method, path) pairs a route serves, with and without a REST stage prefix."""
    method = route.method.upper()
    if route.path == DEFAULT_ROUTE_PATH:
        return [("ANY", DEFAULT_ROUTE_PATH)]
    if route.api is ApiKind.REST and route.stage:
        return [(method, route.path), (method, f"/{route.stage}{route.path}".rstrip("/"))]
    return [(method, route_path(route))]


def route_path(route: Route) -> str:
    """Return the local URL path of a route: `/` for $default, with the stage where it is needed.

    HTTP API routes of a named stage need the `/STAGE` prefix. REST routes are shown without
    their stage, because devd serves them at both `/STAGE/path` and `/path`.
    """
    path = "/" if route.path == DEFAULT_ROUTE_PATH else route.path
    named_stage = route.stage and route.stage != DEFAULT_STAGE
    if route.api is ApiKind.HTTP and named_stage:
        return f"/{route.stage}{path}".rstrip("/") or "/"
    return path


def url_host(host: str) -> str:
    """Return a host as it is written in a URL: loopback for a wildcard, IPv6 in brackets."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def route_urls(routes: Sequence[Route], host: str, ports: Mapping[str, int]) -> dict[Route, str]:
    """Return the local URL of every route, given the port of each API address."""
    return {
        route: f"http://{url_host(host)}:{ports[route.api_address]}{route_path(route)}"
        for route in routes
        if route.api_address in ports
    }


def predicted_ports(routes: Sequence[Route], main_port: int, configured: Mapping[str, int]) -> dict[str, int]:
    """Return the port each API would get, assuming that every planned port is free.

    NOTE: a running devd skips a planned port that is in use, so its ports may differ.
    """
    return {api: group.port for group in plan_ports(routes, main_port, configured) for api in group.apis}
