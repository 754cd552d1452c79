"""`devd invoke`: call one function of a running `devd up` through Lambda's Invoke API."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path
from urllib.parse import quote

from devd.errors import ConfigError

_TIMEOUT_SECONDS = 960.0
"""How long to wait for a response: Lambda's 900-second maximum function timeout plus a margin."""

_WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})


def register(commands: argparse._SubParsersAction) -> None:
    """Add `devd invoke` to the parser."""
    invoke = commands.add_parser(
        "invoke",
        help="invoke a function of the running devd and print its response",
        description="Invoke a function of the running `devd up` through Lambda's Invoke API and "
        "print the response payload. Exits with status 1 when the function fails.",
    )
    invoke.add_argument("function", metavar="FUNCTION", help="the function name (Terraform function_name), its ARN, or a unique end of the name "
                             "such as get-item")
    invoke.add_argument("--event", metavar="FILE",
                        help="a file with the JSON event, or - to read it from standard input (default: {})")
    invoke.add_argument("--type", dest="invocation_type", choices=("RequestResponse", "Event"),
                        default="RequestResponse",
                        help="RequestResponse waits for the response; Event returns at once (default: RequestResponse)")
    invoke.add_argument("--host", help="address of the running devd (default: from devd.toml, else 127.0.0.1)")
    invoke.add_argument("--port", type=int, help="port of the running devd (default: from devd.toml, else 3000)")
    invoke.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Send the event, print the payload, and return 1 on a function error."""
    from devd.cli import settings_for

    settings = settings_for(args)
    host = "127.0.0.1" if settings.host in _WILDCARD_HOSTS else settings.host
    base_url = f"http://{_url_host(host)}:{settings.port}"
    payload = _read_event(args.event)

    status, headers, body = _post(base_url, args.function, args.invocation_type, payload)
    full_name = _full_name(settings, args.function) if status == 404 else None
    if full_name is not None:
        status, headers, body = _post(base_url, full_name, args.invocation_type, payload)
    if status >= 400:
        raise ConfigError(_api_error_message(args.function, base_url, headers, body))
    if headers.get("X-Amz-Function-Error"):
        print(_function_error_text(body), file=sys.stderr)
        return 1
    if body:
        sys.stdout.write(body.decode("utf-8", errors="replace") + "\n")
    return 0


def _full_name(settings, name: str) -> str | None:
    """Return the function name that a short name (`get-hello`, a module name) stands for, when
    exactly one function of the project matches it; None otherwise."""
    from devd.inventory import match_functions
    from devd.terraform.discover import discover
    from devd.terraform.loader import TerraformOptions

    if name.startswith("arn:"):
        return None
    options = TerraformOptions(settings.infra_dir, settings.var_files, settings.variables, settings.environ)
    matches = match_functions(discover(options, settings.project_root).functions, name)
    return matches[0].name if len(matches) == 1 and matches[0].name != name else None


def _read_event(source: str | None) -> bytes:
    if source is None:
        return b"{}"
    if source == "-":
        data = sys.stdin.buffer.read()
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as error:
            raise ConfigError(f"cannot read the event file {source}: {error.strerror or error}") from error

    try:
        json.loads(data)
    except ValueError as error:
        where = "standard input" if source == "-" else source
        raise ConfigError(f"the event in {where} is not valid JSON: {error}. Pass a JSON document.") from error
    return data


def _post(base_url: str, function: str, invocation_type: str, payload: bytes) -> tuple[int, Message, bytes]:
    url = f"{base_url}/2015-03-31/functions/{quote(function, safe='')}/invocations"
    request = urllib.request.Request(
        url, data=payload, method="POST",
        headers={"Content-Type": "application/json", "X-Amz-Invocation-Type": invocation_type},
    )
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()
    except urllib.error.URLError as error:
        raise ConfigError(
            f"no devd is listening on {base_url.removeprefix('http://')} ({error.reason}). "
            "Start it with `devd up` in the project, or pass the port it serves with --port."
        ) from error


def _api_error_message(function: str, base_url: str, headers: Message, body: bytes) -> str:
    error_type = headers.get("x-amzn-ErrorType", "error")
    try:
        message = json.loads(body).get("message", "")
    except (ValueError, AttributeError):
        message = body.decode("utf-8", errors="replace")
    if error_type == "ResourceNotFoundException":
        return (f"function {function!r} not found on {base_url} ({message}). "
                "Run `devd ls` to list the function names.")
    return f"invoking {function!r} on {base_url} failed: {error_type}: {message}"


def _function_error_text(body: bytes) -> str:
    """Format a Lambda error document as its type, message and stack, one line each."""
    try:
        document = json.loads(body)
    except ValueError:
        return body.decode("utf-8", errors="replace")
    if not isinstance(document, dict):
        return json.dumps(document)

    lines = [f"{document.get('errorType', 'Error')}: {document.get('errorMessage', '')}"]
    stack = document.get("stackTrace") or []
    lines.extend(str(frame).rstrip() for frame in stack if isinstance(stack, list))
    return "\n".join(lines)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
