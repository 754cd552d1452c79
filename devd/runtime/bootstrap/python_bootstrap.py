"""devd's Lambda runtime for Python, standard library only.

It imports the handler that `_HANDLER` names ("module.func" or "pkg/module.func") from
`LAMBDA_TASK_ROOT` once, then fetches events from the Runtime API at `AWS_LAMBDA_RUNTIME_API`
over one keep-alive connection and posts each result back. Start it with `python -u`, so that
output reaches the daemon line by line. Printed output passes through unchanged, because the
daemon tags each line with the request id.

With `DEVD_DEFERRED_INIT=1` the process is a spare: before it imports any handler, it waits for
devd to assign it a function, then takes that function's environment and task root.
"""

from __future__ import annotations

import http.client
import importlib
import json
import logging
import os
import sys
import time
import traceback
from typing import Any, Callable

API_PREFIX = "/2018-06-01/runtime"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"

Handler = Callable[[Any, "LambdaContext"], Any]


class InitError(Exception):
    """A handler that cannot be loaded, with the error type Lambda reports for it."""

    def __init__(self, error_type: str, message: str, stack_trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.stack_trace = stack_trace or []


class RuntimeApiClient:
    """A client of the Runtime API that keeps one connection open between requests."""

    def __init__(self, address: str) -> None:
        # "host:port", or "host:port/secret" for devd's Runtime API, whose routes all start
        # with that secret path segment.
        authority, slash, path = address.partition("/")
        host, _, port = authority.rpartition(":")
        self._prefix = f"/{path}{API_PREFIX}" if slash else API_PREFIX
        self._connection = http.client.HTTPConnection(host, int(port), timeout=None)

    def request(
        self, method: str, route: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        """Send one request and return its status, headers and body."""
        self._connection.request(method, self._prefix + route, body=body, headers=headers or {})
        response = self._connection.getresponse()
        return response.status, response.headers, response.read()

    def post_error(self, route: str, document: dict[str, Any]) -> None:
        """Post an error document, to `/init/error` or an invocation's `/error`."""
        flush_output()
        headers = {"Content-Type": "application/json", ERROR_TYPE_HEADER: document["errorType"]}
        self.request("POST", route, json.dumps(document).encode(), headers)


def flush_output() -> None:
    """Flush stdout and stderr, because the daemon tags output only until the result arrives."""
    sys.stdout.flush()
    sys.stderr.flush()


class LambdaContext:
    """The context object that Lambda passes to a Python handler."""

    def __init__(self, request_id: str, function_arn: str, deadline_ms: int) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = function_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        """Return the milliseconds left before the invocation times out."""
        return max(0, self._deadline_ms - int(time.time() * 1000))


IMPORTLIB_DIR = os.path.dirname(importlib.__file__ or "")


def user_frames(error: BaseException) -> list[str]:
    """Format the traceback of `error` without the frames of this file and of importlib."""
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if frame.filename != __file__
        and not frame.filename.startswith("<frozen importlib")
        and os.path.dirname(frame.filename) != IMPORTLIB_DIR
    ]
    return traceback.format_list(frames)


def error_document(error: BaseException) -> dict[str, Any]:
    """Convert an exception into Lambda's error document."""
    if isinstance(error, InitError):
        return {"errorMessage": str(error), "errorType": error.error_type, "stackTrace": error.stack_trace}
    return {"errorMessage": str(error), "errorType": type(error).__name__, "stackTrace": user_frames(error)}


def import_failure(error: BaseException, module_name: str) -> BaseException:
    """Return the error to report for an exception raised while importing the handler."""
    # The exception lines show a syntax error's file, line and caret.
    stack = user_frames(error) + traceback.format_exception_only(type(error), error)
    if isinstance(error, SyntaxError):
        return InitError("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {error}", stack)
    if isinstance(error, ImportError):
        return InitError("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}", stack)
    return error


def load_handler(handler_name: str, task_root: str) -> Handler:
    """Import the handler's module from the task root and return the handler function."""
    module_path, _, function_name = handler_name.rpartition(".")
    if not module_path or not function_name:
        raise InitError(
            "Runtime.MalformedHandlerName",
            f"Handler '{handler_name}' is invalid: expected 'module.function' or 'package/module.function'.",
        )

    sys.path.insert(0, task_root)
    module_name = module_path.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        raise import_failure(error, module_path) from error

    handler = getattr(module, function_name, None)
    if not callable(handler):
        raise InitError(
            "Runtime.HandlerNotFound",
            f"Module '{module_path}' has no function named '{function_name}' (handler '{handler_name}').",
        )
    return handler


def run_invocation(api: RuntimeApiClient, handler: Handler, headers: http.client.HTTPMessage, body: bytes) -> None:
    """Run the handler for one event and post its response or error."""
    request_id = headers["Lambda-Runtime-Aws-Request-Id"]
    os.environ["_X_AMZN_TRACE_ID"] = headers.get("Lambda-Runtime-Trace-Id", "")
    context = LambdaContext(
        request_id,
        headers.get("Lambda-Runtime-Invoked-Function-Arn", ""),
        int(headers.get("Lambda-Runtime-Deadline-Ms", "0")),
    )

    try:
        result = handler(json.loads(body or b"null"), context)
    except Exception as error:
        api.post_error(f"/invocation/{request_id}/error", error_document(error))
        return

    try:
        payload = json.dumps(result).encode()
    except (TypeError, ValueError) as error:
        document = {
            "errorMessage": f"Unable to serialize the handler's result as JSON: {error}",
            "errorType": "Runtime.MarshalError",
            "stackTrace": [],
        }
        api.post_error(f"/invocation/{request_id}/error", document)
        return

    flush_output()
    status, _, reply = api.request(
        "POST", f"/invocation/{request_id}/response", payload, {"Content-Type": "application/json"}
    )
    if status >= 400:
        print(f"The Runtime API rejected the response of request {request_id}: {reply.decode()}", file=sys.stderr)


def receive_assignment(api: RuntimeApiClient) -> None:
    """Wait for the assignment of a spare, then make `os.environ` and the working directory
    what they are in a worker started with the function's environment in its task root."""
    status, _, body = api.request("GET", "/devd/assignment")
    if status != 200:
        raise RuntimeError(f"GET /devd/assignment returned HTTP {status}: {body.decode('utf-8', 'replace')}")
    assignment = json.loads(body)

    # The interpreter itself changed the variables that differ from the spare's start
    # environment (locale coercion sets LC_CTYPE). It reads the same startup variables in a
    # worker started with the function's environment, so it would have changed them there too.
    spare_env = assignment["spare_env"]
    set_by_interpreter = {name: value for name, value in os.environ.items() if spare_env.get(name) != value}
    removed_by_interpreter = [name for name in spare_env if name not in os.environ]

    os.environ.clear()
    os.environ.update(assignment["env"])
    os.environ.update(set_by_interpreter)
    for name in removed_by_interpreter:
        os.environ.pop(name, None)
    os.chdir(assignment["task_root"])


def configure_logging() -> None:
    """Send the root logger to stdout with the level in front, as Lambda's Python runtime does.

    The root level stays at WARNING, as on Lambda, until the handler's code changes it.
    """
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("[%(levelname)s]\t%(message)s"))
    logging.getLogger().addHandler(handler)


def main() -> None:
    """Load the handler, then serve invocations until the daemon stops this process."""
    # The bootstrap's own directory must not shadow the handler's modules.
    bootstrap_dir = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != bootstrap_dir]
    configure_logging()

    api = RuntimeApiClient(os.environ["AWS_LAMBDA_RUNTIME_API"])
    if os.environ.get("DEVD_DEFERRED_INIT") == "1":
        receive_assignment(api)

    try:
        handler = load_handler(os.environ.get("_HANDLER", ""), os.environ.get("LAMBDA_TASK_ROOT", os.getcwd()))
    except Exception as error:
        api.post_error("/init/error", error_document(error))
        sys.exit(1)

    while True:
        status, headers, body = api.request("GET", "/invocation/next")
        if status != 200:
            raise RuntimeError(f"GET /invocation/next returned HTTP {status}: {body.decode('utf-8', 'replace')}")
        run_invocation(api, handler, headers, body)


if __name__ == "__main__":
    main()
