"""Reading aiohttp requests and writing aiohttp responses for the gateway."""

from __future__ import annotations

from aiohttp import web
from multidict import CIMultiDict

from devd.inventory import ApiKind
from devd.runtime.responses import MAX_REQUEST_BODY_BYTES, HttpResponse

_READ_CHUNK_BYTES = 64 * 1024


def split_target(request: web.BaseRequest) -> tuple[str, str]:
    """Return the path as sent (percent-encoded) and the raw query string."""
    target = request.raw_path
    if not target.startswith("/"):
        url = request.rel_url
        return _clean_text(url.raw_path), _clean_text(url.raw_query_string)

    target = target.split("#", 1)[0]
    path, _, raw_query = target.partition("?")
    return _clean_text(path), _clean_text(raw_query)


def _clean_text(text: str) -> str:
    """Replace bytes that were not valid UTF-8 with U+FFFD.

    aiohttp's pure-Python parser keeps such bytes as lone surrogates. Its C parser rejects
    them in the request line with 400 before the handler runs.
    """
    if text.isascii():
        return text
    try:
        raw = text.encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", errors="replace")
    return raw.decode("utf-8", errors="replace")


def request_headers(request: web.BaseRequest) -> tuple[tuple[str, str], ...]:
    return tuple(
        (name.decode("latin-1"), value.decode("utf-8", errors="replace"))
        for name, value in request.raw_headers
    )


async def read_body(request: web.BaseRequest) -> bytes | None:
    """Read the request body, or return None when it is over MAX_REQUEST_BODY_BYTES."""
    declared = request.content_length
    if declared is not None and declared > MAX_REQUEST_BODY_BYTES:
        return None

    chunks = []
    size = 0
    async for chunk in request.content.iter_chunked(_READ_CHUNK_BYTES):
        size += len(chunk)
        if size > MAX_REQUEST_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def to_web(response: HttpResponse, api: ApiKind | None, request_id: str) -> web.Response:
    """Build the aiohttp response, with the request id header that the API kind sends."""
    headers = CIMultiDict(response.headers)
    if api is ApiKind.REST:
        headers.add("x-amzn-RequestId", request_id)
    else:
        headers.add("apigw-requestid", request_id)
    return web.Response(status=response.status, body=response.body, headers=headers)
