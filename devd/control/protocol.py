"""The control protocol: one JSON object per line over the daemon's Unix socket.

A client writes a request, `{"id": 1, "action": "status", "args": {}}`. The daemon writes
zero or more stream events for that id, `{"id": 1, "event": {...}}`, and then exactly one
final reply: `{"id": 1, "ok": true, "result": ...}` or `{"id": 1, "ok": false, "error": "..."}`.
The daemon responds to the requests of one connection in order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devd.errors import DevdError

SOCKET_NAME = "control.sock"
"""File name of the control socket inside the project's `.devd/` directory."""

MAX_LINE_BYTES = 1024 * 1024
"""Maximum length of a message line on either side. A longer line is an error, not a hang."""

MAX_SOCKET_PATH_BYTES = 107
"""Maximum path length Linux accepts for a Unix socket (`sun_path` is 108 bytes with its NUL)."""


class ControlError(DevdError):
    """A control request that failed: no daemon, a bad message, or an action that raised."""


@dataclass(frozen=True)
class Request:
    """One request from a client: the action name and its keyword arguments."""

    id: int
    action: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    """The final response to a request, or one stream event when `event` is set."""

    id: int
    ok: bool = True
    result: Any = None
    error: str | None = None
    event: Any = None
    is_event: bool = False


def socket_path(state_dir: Path) -> Path:
    """Return the control socket path of a project's state directory (`.devd/`)."""
    return state_dir / SOCKET_NAME


def check_socket_path(path: Path) -> None:
    """Raise ControlError when the path is too long to bind or connect a Unix socket."""
    if len(str(path).encode()) > MAX_SOCKET_PATH_BYTES:
        raise ControlError(
            f"control socket path {path} is longer than {MAX_SOCKET_PATH_BYTES} bytes; "
            "move the project to a shorter path to use devd status, build and logs with a running daemon")


def encode(message: Request | Reply) -> bytes:
    """Return the message as one JSON line."""
    if isinstance(message, Request):
        document: dict[str, Any] = {"id": message.id, "action": message.action, "args": message.args}
    elif message.is_event:
        document = {"id": message.id, "event": message.event}
    elif message.ok:
        document = {"id": message.id, "ok": True, "result": message.result}
    else:
        document = {"id": message.id, "ok": False, "error": message.error}
    return json.dumps(document, separators=(",", ":")).encode() + b"\n"


def decode_request(line: bytes) -> Request:
    """Parse a request line; raise ControlError naming what is wrong."""
    document = _decode_object(line)
    request_id, action, args = document.get("id"), document.get("action"), document.get("args", {})
    if not isinstance(request_id, int) or isinstance(request_id, bool):
        raise ControlError(f"invalid request id {request_id!r}: send an integer")
    if not isinstance(action, str) or not action:
        raise ControlError(f"invalid action {action!r}: send the action name as a string")
    if not isinstance(args, dict):
        raise ControlError(f"invalid args {args!r}: send an object")
    return Request(request_id, action, args)


def decode_reply(line: bytes) -> Reply:
    """Parse a reply or event line; raise ControlError naming what is wrong."""
    document = _decode_object(line)
    request_id = document.get("id")
    if not isinstance(request_id, int):
        raise ControlError(f"invalid reply id {request_id!r} from the daemon")
    if "event" in document:
        return Reply(request_id, event=document["event"], is_event=True)
    if document.get("ok") is True:
        return Reply(request_id, result=document.get("result"))
    return Reply(request_id, ok=False, error=str(document.get("error") or "the daemon sent no error message"))


def _decode_object(line: bytes) -> dict[str, Any]:
    try:
        document = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ControlError(f"invalid control message {line[:80]!r}: {error}") from None
    if not isinstance(document, dict):
        raise ControlError(f"invalid control message {line[:80]!r}: expected a JSON object")
    return document
