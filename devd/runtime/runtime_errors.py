"""The error documents that runtimes post to the Runtime API and that Lambda returns to callers."""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorDocument:
    """The error a runtime reports, in the shape Lambda returns to callers."""

    error_type: str
    message: str
    stack_trace: tuple[str, ...] = ()

    def to_json(self) -> bytes:
        """Serialize with Lambda's field names."""
        document = {
            "errorMessage": self.message,
            "errorType": self.error_type,
            "stackTrace": list(self.stack_trace),
        }
        return json.dumps(document).encode()


def error_log_lines(error: ErrorDocument) -> list[str]:
    """Return the log lines of an error: "Type: message", then the stack trace's lines.

    A Node.js stack starts with "Name: message", which the first line already shows, so that
    stack line is left out.
    """
    lines = [line.rstrip() for entry in error.stack_trace for line in entry.splitlines()]
    if lines and error.message and lines[0].endswith(error.message):
        lines = lines[1:]
    return [f"{error.error_type}: {error.message}", *(line for line in lines if line.strip())]


def parse_error_document(body: bytes, error_type_header: str | None) -> ErrorDocument:
    """Read the error document a runtime posted, tolerating bodies that are not one.

    The header `Lambda-Runtime-Function-Error-Type` is the type when the body has none.
    """
    fallback_type = error_type_header or "Unhandled"

    try:
        document = json.loads(body or b"null")
    except ValueError:
        return ErrorDocument(fallback_type, body.decode("utf-8", "replace"))
    if not isinstance(document, dict):
        return ErrorDocument(fallback_type, json.dumps(document))

    stack = document.get("stackTrace") or document.get("trace") or []
    if isinstance(stack, str):
        stack = stack.splitlines()
    return ErrorDocument(
        error_type=str(document.get("errorType") or fallback_type),
        message=str(document.get("errorMessage", "")),
        stack_trace=tuple(str(line) for line in stack) if isinstance(stack, list) else (),
    )


def error_payload(body: bytes, error: ErrorDocument) -> bytes:
    """Return the runtime's own document when it is a JSON object, else a normalized one."""
    try:
        if isinstance(json.loads(body), dict):
            return body
    except ValueError:
        pass
    return error.to_json()
