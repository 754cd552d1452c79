"""Route selection with API Gateway's precedence rules, compiled once per route list.

A path whose route is a full match beats a route with a greedy path variable ({proxy+}),
which beats the $default route. Among routes of the same kind, segments are compared from
left to right and a literal segment beats a {param} segment at the same position. A specific
method beats ANY on the same path. Declaration order never decides, because even exact
duplicates are ordered by API address.

REST routes that carry a stage are served both at `/STAGE/path` and at `/path`, and the
match's `path` never contains the stage. HTTP API routes of a stage other than `$default` are
served only at `/STAGE/path`, and their `path` keeps the stage, as `rawPath` does on AWS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence
from urllib.parse import unquote

from devd.errors import ConfigError
from devd.inventory import ApiKind, Cors, Route

DEFAULT_ROUTE_PATH = "$default"
DEFAULT_STAGE = "$default"
ANY_METHOD = "ANY"

_LITERAL_RANK = 0
_PARAMETER_RANK = 1
_GREEDY_RANK = 2


@dataclass(frozen=True)
class RouteMatch:
    """The route that serves a request, with its URL-decoded path parameters.

    `path` is the request path as sent (still percent-encoded), without the query string. A
    REST match drops the `/STAGE` prefix from it, and an HTTP API match keeps it.
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
    _staged_defaults: dict[str, Route] = field(default_factory=dict)
    _fallbacks: dict[str, _MethodIndex] = field(default_factory=dict)

    @classmethod
    def from_routes(cls, routes: Iterable[Route]) -> RouteTable:
        """Compile the routes. Raises ConfigError when a greedy variable is not the last segment."""
        all_routes = tuple(routes)
        by_address = sorted(
            (r for r in all_routes if r.path == DEFAULT_ROUTE_PATH), key=lambda r: r.api_address
        )
        defaults = tuple(r for r in by_address if not _prefix_only(r))
        staged_defaults: dict[str, Route] = {}
        for route in by_address:
            if _prefix_only(route) and route.stage is not None:
                staged_defaults.setdefault(route.stage, route)

        patterns = [_compile(r) for r in all_routes if r.path != DEFAULT_ROUTE_PATH]
        stages: dict[str, list[_Pattern]] = {}
        for pattern in patterns:
            stage = _url_stage(pattern.route)
            if stage is not None:
                stages.setdefault(stage, []).append(pattern)

        unprefixed = [p for p in patterns if not _prefix_only(p.route)]
        # A request under /STAGE/ that the stage's routes do not serve is not retried on the
        # same REST API without the prefix, so GET /dev never reaches its {proxy+} as "dev".
        fallbacks = {
            stage: _MethodIndex.build(p for p in unprefixed if _url_stage(p.route) != stage)
            for stage in stages.keys() | staged_defaults.keys()
        }
        return cls(
            routes=all_routes,
            _index=_MethodIndex.build(unprefixed),
            _stages={stage: _MethodIndex.build(staged) for stage, staged in stages.items()},
            _defaults=defaults,
            _staged_defaults=staged_defaults,
            _fallbacks=fallbacks,
        )

    @property
    def rest_only(self) -> bool:
        """True when the table has routes and every one of them belongs to a REST API."""
        return bool(self.routes) and all(route.api is ApiKind.REST for route in self.routes)

    def cors_for(self, method: str, path: str) -> Cors | None:
        """Return the CORS configuration that applies to a preflight for `method` on `path`.

        It is the configuration of the API whose route would serve the request (None for a
        REST route). When no route serves it, it is the first configuration by API address.
        """
        found = self.match(method or ANY_METHOD, path)
        if found is not None:
            return found.route.cors

        configured = sorted(
            (route for route in self.routes if route.cors is not None),
            key=lambda route: route.api_address,
        )
        return configured[0].cors if configured else None

    def match(self, method: str, path: str) -> RouteMatch | None:
        """Select the route for a request. `path` is percent-encoded and has no query string."""
        method = method.upper()
        raw_segments = _split(path)
        segments = [unquote(segment, errors="replace") for segment in raw_segments]

        index = self._index
        if segments and segments[0] in self._fallbacks:
            stage = segments[0]
            found = self._stages[stage].match(method, segments[1:]) if stage in self._stages else None
            if found is not None:
                route, parameters = found
                match_path = path if _prefix_only(route) else _strip_stage(path, raw_segments[0])
                return RouteMatch(route, parameters, match_path)
            if stage in self._staged_defaults:
                return RouteMatch(self._staged_defaults[stage], {}, path)
            index = self._fallbacks[stage]

        found = index.match(method, segments)
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


def _url_stage(route: Route) -> str | None:
    """Return the stage that prefixes the route's URLs, or None for the $default stage."""
    if route.api is ApiKind.REST:
        return route.stage or None
    if route.stage and route.stage != DEFAULT_STAGE:
        return route.stage
    return None


def _prefix_only(route: Route) -> bool:
    """Tell whether a route is served only under /STAGE/: HTTP API routes of a named stage."""
    return route.api is ApiKind.HTTP and _url_stage(route) is not None


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
