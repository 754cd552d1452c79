"""Pure pieces of the gateway's HTTP/1.1 server: reading the request target and encoding
responses."""

from __future__ import annotations

import time
from email.utils import formatdate
from http import HTTPStatus

from devd.inventory import ApiKind
from devd.runtime.responses import HttpResponse

_NO_LENGTH_STATUSES = frozenset({204, 304})
_REASONS = {status.value: status.phrase for status in HTTPStatus}


def split_target(target: bytes) -> tuple[str, str]:
    """Return the path as sent (percent-encoded) and the raw query string of a request target.

    Takes the origin form (`/path?query`) and the absolute form (`http://host/path?query`),
    drops a fragment, and replaces bytes that are not valid UTF-8 with U+FFFD.
    """
    target = target.split(b"#", 1)[0]
    if not target.startswith(b"/"):
        scheme = target.find(b"://")
        if scheme < 0:
            return clean_text(target), ""
        slash = target.find(b"/", scheme + 3)
        target = target[slash:] if slash >= 0 else b"/"

    path, _, raw_query = target.partition(b"?")
    return clean_text(path), clean_text(raw_query)


def clean_text(raw: bytes) -> str:
    """Decode bytes as UTF-8, replacing what is not valid with U+FFFD."""
    return raw.decode("utf-8", errors="replace")


def with_request_id(response: HttpResponse, api: ApiKind | None, request_id: str) -> HttpResponse:
    """Add the request id header that the API kind sends: `x-amzn-RequestId` for REST APIs,
    `apigw-requestid` otherwise."""
    name = "x-amzn-RequestId" if api is ApiKind.REST else "apigw-requestid"
    return HttpResponse(response.status, (*response.headers, (name, request_id)), response.body)


def encode_response(response: HttpResponse, *, head_only: bool, close: bool, http_10: bool) -> bytes:
    """Return the bytes of a response: status line, headers, and the body unless `head_only`.

    The server adds Date, Content-Length (not on 204 and 304) and, when it closes the
    connection or keeps an HTTP/1.0 one open, Connection.
    """
    status = response.status
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}"]
    lines.extend(f"{name}: {value}" for name, value in response.headers)
    lines.append(f"Date: {http_date()}")
    if status not in _NO_LENGTH_STATUSES:
        lines.append(f"Content-Length: {len(response.body)}")
    if close:
        lines.append("Connection: close")
    elif http_10:
        lines.append("Connection: keep-alive")

    head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", errors="replace")
    if head_only or not response.body:
        return head
    return head + response.body


_date_cache: tuple[int, str] = (0, "")


def http_date() -> str:
    """Return the current time as an HTTP date, computed once per second."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]
