"""Route selection with API Gateway's precedence rules, compiled once per route list.

A path whose route is a full match beats a route with a greedy path variable ({proxy+}),
which beats the $default route. Among routes of the same kind, segments are compared from
left to right and a literal segment beats a {param} segment at the same position. A specific
method beats ANY on the same path. Declaration order never decides, because even exact
duplicates are ordered by API address.

REST routes that carry a stage are served both at `/STAGE/path` and at `/path`, and the
match's `path` never contains the stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence
from urllib.parse import unquote

from devd.errors import ConfigError
from devd.inventory import ApiKind, Route

DEFAULT_ROUTE_PATH = "$default"
ANY_METHOD = "ANY"

_LITERAL_RANK = 0
_PARAMETER_RANK = 1
_GREEDY_RANK = 2


@dataclass(frozen=True)
class RouteMatch:
    """The route that serves a request, with its URL-decoded path parameters.

    `path` is the request path as sent (still percent-encoded), without the query string and
    without the stage prefix when the request used `/STAGE/path`.
    """

    route: Route
    path_parameters: dict[str, str]
    path: str


@dataclass(frozen=True)
class _Segment:
    """One segment of a route path: literal text, or the name of a {param}."""

    text: str
    is_parameter: bool


@dataclass(frozen=True)
class _Pattern:
    """A route path split into segments, with the sort key that orders it among others."""

    route: Route
    segments: tuple[_Segment, ...]
    greedy: str | None
    priority: tuple[object, ...]

    def match(self, segments: Sequence[str]) -> dict[str, str] | None:
        """Return the path parameters when the decoded request segments fit, else None."""
        fixed = len(self.segments)
        if self.greedy is None and len(segments) != fixed:
            return None
        if self.greedy is not None and len(segments) <= fixed:
            return None

        parameters: dict[str, str] = {}
        for pattern, value in zip(self.segments, segments):
            if pattern.is_parameter:
                if not value:
                    return None
                parameters[pattern.text] = value
            elif pattern.text != value:
                return None

        if self.greedy is not None:
            rest = "/".join(segments[fixed:])
            if not rest:
                return None
            parameters[self.greedy] = rest
        return parameters


@dataclass(frozen=True)
class _MethodIndex:
    """Patterns ordered by precedence, per request method."""

    by_method: dict[str, tuple[_Pattern, ...]]
    any_method: tuple[_Pattern, ...]

    @classmethod
    def build(cls, patterns: Iterable[_Pattern]) -> _MethodIndex:
        ordered = sorted(patterns, key=lambda pattern: pattern.priority)
        methods = {pattern.route.method.upper() for pattern in ordered} - {ANY_METHOD}
        by_method = {
            method: tuple(p for p in ordered if p.route.method.upper() in (method, ANY_METHOD))
            for method in methods
        }
        any_method = tuple(p for p in ordered if p.route.method.upper() == ANY_METHOD)
        return cls(by_method, any_method)

    def match(self, method: str, segments: Sequence[str]) -> tuple[Route, dict[str, str]] | None:
        for pattern in self.by_method.get(method, self.any_method):
            parameters = pattern.match(segments)
            if parameters is not None:
                return pattern.route, parameters
        return None


@dataclass(frozen=True)
class RouteTable:
    """A matcher built once from a route list, so that a request never sorts routes."""

    routes: tuple[Route, ...]
    _index: _MethodIndex
    _stages: dict[str, _MethodIndex]
    _defaults: tuple[Route, ...] = field(default=())

    @classmethod
    def from_routes(cls, routes: Iterable[Route]) -> RouteTable:
        """Compile the routes. Raises ConfigError when a greedy variable is not the last segment."""
        all_routes = tuple(routes)
        defaults = tuple(
            sorted(
                (r for r in all_routes if r.path == DEFAULT_ROUTE_PATH),
                key=lambda r: r.api_address,
            )
        )
        patterns = [_compile(r) for r in all_routes if r.path != DEFAULT_ROUTE_PATH]

        # NOTE: only REST stages get a URL prefix. HTTP API routes of a named stage are served at
        # /path, where AWS would serve them at /STAGE/path.
        stages: dict[str, list[_Pattern]] = {}
        for pattern in patterns:
            route = pattern.route
            if route.api is ApiKind.REST and route.stage:
                stages.setdefault(route.stage, []).append(pattern)

        return cls(
            routes=all_routes,
            _index=_MethodIndex.build(patterns),
            _stages={stage: _MethodIndex.build(staged) for stage, staged in stages.items()},
            _defaults=defaults,
        )

    @property
    def rest_only(self) -> bool:
        """True when the table has routes and every one of them belongs to a REST API."""
        return bool(self.routes) and all(route.api is ApiKind.REST for route in self.routes)

    def match(self, method: str, path: str) -> RouteMatch | None:
        """Select the route for a request. `path` is percent-encoded and has no query string."""
        method = method.upper()
        raw_segments = _split(path)
        segments = [unquote(segment, errors="replace") for segment in raw_segments]

        if segments and segments[0] in self._stages:
            found = self._stages[segments[0]].match(method, segments[1:])
            if found is not None:
                route, parameters = found
                return RouteMatch(route, parameters, _strip_stage(path, raw_segments[0]))

        found = self._index.match(method, segments)
        if found is not None:
            route, parameters = found
            return RouteMatch(route, parameters, path)

        if self._defaults:
            return RouteMatch(self._defaults[0], {}, path)
        return None


def match_route(routes: Iterable[Route], method: str, path: str) -> RouteMatch | None:
    """Select the route for one request. Build a RouteTable instead when serving many."""
    return RouteTable.from_routes(routes).match(method, path)


def _split(path: str) -> list[str]:
    """Split a path into segments, ignoring the leading slash and one trailing slash."""
    trimmed = path[1:] if path.startswith("/") else path
    if trimmed.endswith("/"):
        trimmed = trimmed[:-1]
    if not trimmed:
        return []
    return trimmed.split("/")


def _strip_stage(path: str, raw_stage: str) -> str:
    rest = path[len(raw_stage) + 1 :]
    return rest if rest.startswith("/") else "/" + rest


def _compile(route: Route) -> _Pattern:
    parts = _split(route.path)
    greedy: str | None = None
    if parts and parts[-1].startswith("{") and parts[-1].endswith("+}"):
        greedy = parts.pop()[1:-2]

    segments = []
    for part in parts:
        is_parameter = part.startswith("{") and part.endswith("}")
        if is_parameter and part.endswith("+}"):
            raise ConfigError(
                f"Route {route.key!r} of {route.api_address} is invalid: a greedy path variable "
                f"such as {{proxy+}} must be the last segment of the path. Move {part} to the end."
            )
        segments.append(_Segment(part[1:-1] if is_parameter else part, is_parameter))

    ranks = [_PARAMETER_RANK if s.is_parameter else _LITERAL_RANK for s in segments]
    if greedy is not None:
        ranks.append(_GREEDY_RANK)
    is_any = route.method.upper() == ANY_METHOD
    priority = (greedy is not None, tuple(ranks), is_any, route.api_address, route.key)
    return _Pattern(route, tuple(segments), greedy, priority)
