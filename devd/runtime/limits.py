"""API Gateway's integration timeouts, and the warning for a gateway reachable from the network."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from dataclasses import dataclass
from typing import Callable

from devd.inventory import ApiKind
from devd.runtime.invoke import InvokeResult

logger = logging.getLogger("devd.runtime.gateway")


class IntegrationTimeout(Exception):
    """The function did not respond within API Gateway's integration timeout."""


@dataclass(frozen=True)
class IntegrationLimits:
    """API Gateway's integration timeouts in seconds: 29 s for REST APIs, 30 s for HTTP APIs."""

    rest_seconds: float = 29.0
    http_seconds: float = 30.0

    def seconds(self, api: ApiKind) -> float:
        """Return the timeout of one API kind."""
        return self.rest_seconds if api is ApiKind.REST else self.http_seconds


def exposure_warning(host: str) -> str | None:
    """Return a warning when `host` accepts connections from other machines, else None.

    A host name other than localhost counts as reachable, because it may resolve to any address.
    """
    if host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host.strip("[]")).is_loopback:
            return None
    except ValueError:
        pass
    return (
        f"The gateway listens on {host}, so other machines on the network can call every "
        "function through it. Use --host 127.0.0.1 unless you need that."
    )


def drop_abandoned(abandoned: set[asyncio.Future[InvokeResult]]) -> Callable[[asyncio.Future[InvokeResult]], None]:
    """Return a callback that removes a timed-out invocation from the set and logs its failure."""

    def drop(invocation: asyncio.Future[InvokeResult]) -> None:
        abandoned.discard(invocation)
        if not invocation.cancelled() and invocation.exception() is not None:
            logger.warning("Invocation after an integration timeout failed: %r", invocation.exception())

    return drop
