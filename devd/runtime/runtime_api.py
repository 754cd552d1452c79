"""The Lambda Runtime API that one worker process polls, served on 127.0.0.1.

Every worker has its own server, so an invocation that the server has handed out can only be
running in that worker's process. The worker submits an invocation, the bootstrap inside the
process fetches it with `GET /invocation/next` and posts the handler's response or error, and
the server resolves the invocation's reply. `POST /init/error` fails every invocation that
waits, because a runtime that cannot load its handler never fetches them.

A spare runtime, started before devd has a function for it, first long-polls the devd-specific
`GET /devd/assignment`. The server returns the function's environment and task root once
`assign` is called.

Only the worker's own processes may use the server. Every route starts with a random secret
segment, which the worker finds in `AWS_LAMBDA_RUNTIME_API` ("127.0.0.1:PORT/SECRET"). Clients
that build URLs as "http://" + AWS_LAMBDA_RUNTIME_API + path (the bootstraps, aws-lambda-go,
shell and Python custom runtimes) send the secret unchanged. A client that keeps only the host
and port of that variable, as older releases of aws-lambda-rust-runtime do, sends Runtime API
paths without it. Such a request is served when the connection comes from the runtime
process, its process group or a descendant. `peer_process.py` looks that up in /proc, once per
connection. Any other request without the secret gets 404.
NOTE: without /proc (macOS, for one), a client that drops the secret always gets 404.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Mapping

from devd.runtime.peer_process import is_runtime_connection
from devd.runtime.runtime_errors import ErrorDocument, error_payload, parse_error_document
from devd.runtime.runtime_http import HttpRequest, HttpResponse, RuntimeHttpProtocol
from devd.runtime.waits import random_hex

logger = logging.getLogger("devd.runtime.runtime_api")

API_PREFIX = "/2018-06-01/runtime"

MAX_RESPONSE_BYTES = 6_291_556
"""Maximum size of a handler's response: the number that Lambda's own error message states
for its 6 MB quota on synchronous invocations."""

ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"


@dataclass(frozen=True)
class Invocation:
    """One event to deliver to the handler."""

    request_id: str
    event: bytes
    function_arn: str
    timeout_s: float
    trace_id: str


@dataclass(frozen=True)
class Reply:
    """The runtime's reply to an invocation.

    `payload` is the response body, or the error document as JSON when `error` is set.
    `during_init` is true when the runtime failed to load the handler (`/init/error`).
    """

    payload: bytes
    error: ErrorDocument | None = None
    during_init: bool = False
    received_at: float = field(default_factory=time.monotonic)
    """The `time.monotonic()` at which the runtime's reply arrived."""


@dataclass(frozen=True)
class Assignment:
    """The function that a spare runtime becomes.

    `env` is the complete environment of the worker, which replaces the spare's own, and names
    the handler in `_HANDLER`. `task_root` becomes the working directory. `spare_env` is the
    environment that the spare was started with. A variable whose value differs from it was
    set by the interpreter itself while it started (CPython's locale coercion sets LC_CTYPE),
    so the runtime keeps it, as an interpreter started with `env` would have set it too.
    """

    env: Mapping[str, str]
    task_root: str
    spare_env: Mapping[str, str]

    def to_json(self) -> bytes:
        """Serialize as the bootstraps read it: {"env": ..., "task_root": ..., "spare_env": ...}."""
        document = {"env": dict(self.env), "task_root": self.task_root, "spare_env": dict(self.spare_env)}
        return json.dumps(document).encode()


def _new_future() -> asyncio.Future:
    return asyncio.get_running_loop().create_future()


@dataclass(frozen=True)
class PendingInvocation:
    """An invocation and its progress.

    `delivered` resolves to the `time.monotonic()` at which the runtime fetched the event,
    and `reply` to what the runtime posted back.
    """

    invocation: Invocation
    delivered: asyncio.Future[float] = field(default_factory=_new_future)
    reply: asyncio.Future[Reply] = field(default_factory=_new_future)


def new_trace_id(now: float | None = None) -> str:
    """Return an X-Ray trace header value for one invocation, not sampled."""
    epoch = int(time.time() if now is None else now)
    digits = random_hex(40)
    return f"Root=1-{epoch:08x}-{digits[:24]};Parent={digits[24:]};Sampled=0"


class RuntimeApiServer:
    """The Runtime API of one worker process.

    `on_init_error` receives the document of `POST /init/error` once, as soon as it arrives.
    `assignment_requested` is set when a spare runtime first polls for its assignment, and
    `init_finished` when the runtime has loaded its handler (its first `GET /invocation/next`)
    or reported that it cannot (`POST /init/error`).
    """

    def __init__(self, on_init_error: Callable[[ErrorDocument], None] | None = None) -> None:
        self.on_init_error = on_init_error
        self.assignment_requested = asyncio.Event()
        self.init_finished = asyncio.Event()
        self._assignment: asyncio.Future[Assignment] | None = None
        self._runtime_pid: asyncio.Future[int] | None = None
        self._queue: asyncio.Queue[PendingInvocation] = asyncio.Queue()
        self._polls: deque[asyncio.Future[HttpResponse]] = deque()
        """Long polls of `GET /invocation/next` that wait for an invocation, oldest first."""
        self._in_flight: dict[str, PendingInvocation] = {}
        self._init_error: Reply | None = None
        self._connections: set[RuntimeHttpProtocol] = set()
        self._server: asyncio.AbstractServer | None = None
        self._secret = secrets.token_urlsafe(18)
        self._prefix = f"/{self._secret}{API_PREFIX}"
        self.address = ""
        self.init_finished_at: float | None = None
        """The `time.monotonic()` at which `init_finished` was set."""

    async def start(self) -> None:
        """Listen on 127.0.0.1 on a free port, and set `address` to "127.0.0.1:PORT/SECRET"."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: RuntimeHttpProtocol(self._dispatch, MAX_RESPONSE_BYTES, self._connections), "127.0.0.1", 0
        )
        host, port = self._server.sockets[0].getsockname()[:2]
        self.address = f"{host}:{port}/{self._secret}"

    def assign(self, assignment: Assignment) -> None:
        """Send the assignment to the spare runtime: now if it is polling, else on its poll.

        Raises RuntimeError when the server already has an assignment.
        """
        future = self._assignment_future()
        if future.done():
            raise RuntimeError("this Runtime API server already has an assignment")
        future.set_result(assignment)

    def set_runtime_pid(self, pid: int) -> None:
        """Set the pid of the runtime process, which leads a process group of its own.

        Requests without the secret prefix wait for it, because the runtime may connect before
        its starter has the pid. Raises RuntimeError when the server already has a pid.
        """
        future = self._runtime_pid_future()
        if future.done():
            raise RuntimeError("this Runtime API server already has a runtime pid")
        future.set_result(pid)

    def submit(self, invocation: Invocation) -> PendingInvocation:
        """Deliver an invocation to the runtime's waiting poll at once, or queue it for the next.

        When the runtime has already reported an init error, the reply is that error at once.
        """
        pending = PendingInvocation(invocation)
        if self._init_error is not None:
            pending.reply.set_result(self._init_error)
            return pending

        while self._polls:
            poll = self._polls.popleft()
            if not poll.done():  # a poll whose connection closed is cancelled
                poll.set_result(self._deliver(pending))
                return pending
        self._queue.put_nowait(pending)
        return pending

    def discard(self, request_id: str) -> None:
        """Forget an invocation that ended without a reply, so a late reply is rejected."""
        self._in_flight.pop(request_id, None)

    async def close(self) -> None:
        """Stop listening, end the long polls that still wait, and close every connection."""
        if self._server is not None:
            self._server.close()
        for poll in self._polls:
            poll.cancel()
        self._polls.clear()
        for connection in list(self._connections):
            connection.close()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def _dispatch(
        self, request: HttpRequest, connection: RuntimeHttpProtocol
    ) -> HttpResponse | Awaitable[HttpResponse]:
        """Route one request of the runtime.

        A Runtime API path without the secret prefix is routed when the connection comes from
        the runtime's process tree. The first such request of a connection looks that up, and
        the connection stores the result. Any other path without the prefix gets 404.
        """
        path = request.path
        if path.startswith(self._prefix):
            return self._route(request, path[len(self._prefix):])

        if path.startswith(API_PREFIX) and connection.peer_trusted is None:
            return self._route_after_peer_check(request, connection)
        if path.startswith(API_PREFIX) and connection.peer_trusted:
            return self._route(request, path[len(API_PREFIX):])

        logger.debug("rejected %s %s: not a path of this worker's Runtime API", request.method, path[:80])
        return _json_response(404, {"errorType": "NotFound", "errorMessage": "no such Runtime API route"})

    async def _route_after_peer_check(self, request: HttpRequest, connection: RuntimeHttpProtocol) -> HttpResponse:
        runtime_pid = await asyncio.shield(self._runtime_pid_future())
        connection.peer_trusted = await is_runtime_connection(connection.socket_addresses(), runtime_pid)

        result = self._dispatch(request, connection)
        return result if isinstance(result, HttpResponse) else await result

    def _runtime_pid_future(self) -> asyncio.Future[int]:
        if self._runtime_pid is None:
            self._runtime_pid = _new_future()
        return self._runtime_pid

    def _route(self, request: HttpRequest, route: str) -> HttpResponse | Awaitable[HttpResponse]:
        if route == "/invocation/next" and request.method == "GET":
            return self._next()
        if route.startswith("/invocation/") and request.method == "POST":
            request_id, _, action = route[len("/invocation/"):].rpartition("/")
            if request_id and "/" not in request_id and action == "response":
                return self._response(request_id, request)
            if request_id and "/" not in request_id and action == "error":
                return self._error(request_id, request)
        if route == "/init/error" and request.method == "POST":
            return self._init_error_route(request)
        if route == "/devd/assignment" and request.method == "GET":
            return self._assignment_route()
        return _json_response(404, {"errorType": "NotFound", "errorMessage": f"no route {request.method} {route[:80]}"})

    async def _assignment_route(self) -> HttpResponse:
        self.assignment_requested.set()
        assignment = await asyncio.shield(self._assignment_future())
        return HttpResponse(200, assignment.to_json())

    def _assignment_future(self) -> asyncio.Future[Assignment]:
        if self._assignment is None:
            self._assignment = _new_future()
        return self._assignment

    def _mark_init_finished(self) -> None:
        if not self.init_finished.is_set():
            self.init_finished_at = time.monotonic()
            self.init_finished.set()

    def _next(self) -> HttpResponse | Awaitable[HttpResponse]:
        self._mark_init_finished()
        pending = self._take_ready()
        if pending is not None:
            return self._deliver(pending)

        # A future, not a coroutine, so that `submit` delivers the event in its own call and
        # the transport needs no task for the poll.
        poll: asyncio.Future[HttpResponse] = _new_future()
        self._polls.append(poll)
        return poll

    def _deliver(self, pending: PendingInvocation) -> HttpResponse:
        invocation = pending.invocation
        deadline_ms = int((time.time() + invocation.timeout_s) * 1000)
        self._in_flight[invocation.request_id] = pending
        pending.delivered.set_result(time.monotonic())

        headers = (
            ("Lambda-Runtime-Aws-Request-Id", invocation.request_id),
            ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
            ("Lambda-Runtime-Invoked-Function-Arn", invocation.function_arn),
            ("Lambda-Runtime-Trace-Id", invocation.trace_id),
        )
        return HttpResponse(200, invocation.event, headers)

    def _take_ready(self) -> PendingInvocation | None:
        # An invocation whose reply is already set (it timed out or was cancelled while
        # queued) is skipped, because no caller waits for its result any more.
        while not self._queue.empty():
            pending = self._queue.get_nowait()
            if not pending.reply.done():
                return pending
        return None

    def _response(self, request_id: str, request: HttpRequest) -> HttpResponse:
        pending = self._in_flight.get(request_id)
        if pending is None:
            return _invalid_request_id(request_id)

        if request.body_too_large:
            error = ErrorDocument(
                "Function.ResponseSizeTooLarge",
                f"The response is larger than the maximum payload size ({MAX_RESPONSE_BYTES} bytes).",
            )
            self._finish(pending, Reply(error.to_json(), error))
            return _json_response(413, {"errorType": error.error_type, "errorMessage": error.message})

        self._finish(pending, Reply(request.body))
        return _ACCEPTED

    def _error(self, request_id: str, request: HttpRequest) -> HttpResponse:
        pending = self._in_flight.get(request_id)
        if pending is None:
            return _invalid_request_id(request_id)

        error = parse_error_document(request.body, request.headers.get(ERROR_TYPE_HEADER.lower()))
        self._finish(pending, Reply(error_payload(request.body, error), error))
        return _ACCEPTED

    def _init_error_route(self, request: HttpRequest) -> HttpResponse:
        error = parse_error_document(request.body, request.headers.get(ERROR_TYPE_HEADER.lower()))
        first_report = self._init_error is None
        self._init_error = Reply(error_payload(request.body, error), error, during_init=True)

        for pending in [*self._in_flight.values(), *_drain_queue(self._queue)]:
            self._finish(pending, self._init_error)

        self._mark_init_finished()
        if first_report and self.on_init_error is not None:
            self.on_init_error(error)
        return _ACCEPTED

    def _finish(self, pending: PendingInvocation, reply: Reply) -> None:
        self._in_flight.pop(pending.invocation.request_id, None)
        if not pending.reply.done():
            pending.reply.set_result(reply)


def _drain_queue(queue: asyncio.Queue[PendingInvocation]) -> list[PendingInvocation]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


def _invalid_request_id(request_id: str) -> HttpResponse:
    logger.debug("rejected a reply for request %s, which is not in flight", request_id)
    message = f"Request {request_id} is not in flight: it finished, timed out or was never sent."
    return _json_response(400, {"errorType": "InvalidRequestID", "errorMessage": message})


def _json_response(status: int, document: dict[str, str]) -> HttpResponse:
    return HttpResponse(status, json.dumps(document).encode())


_ACCEPTED = _json_response(202, {"status": "OK"})
