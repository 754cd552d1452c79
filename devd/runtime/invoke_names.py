"""Lambda's Invoke API, pure part: the request path, function identifiers and error responses.

The Invoke operation is `POST /2015-03-31/functions/{FunctionName}/invocations`, where
FunctionName is a function name, a partial ARN (`ACCOUNT:function:NAME`) or a full ARN
(`arn:aws:lambda:REGION:ACCOUNT:function:NAME`), each optionally followed by `:QUALIFIER`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import Enum
from urllib.parse import unquote

INVOKE_PATH_PREFIX = "/2015-03-31/functions/"
LATEST = "$LATEST"

_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
_FULL_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:"
    r"(?P<name>[^:]+)(?::(?P<qualifier>[^:]+))?$"
)
_PARTIAL_ARN = re.compile(r"^(?P<account>\d{12}):function:(?P<name>[^:]+)(?::(?P<qualifier>[^:]+))?$")
_NAME = re.compile(r"^(?P<name>[a-zA-Z0-9_-]+)(?::(?P<qualifier>[^:]+))?$")


class InvocationType(str, Enum):
    """The values of the `X-Amz-Invocation-Type` header."""

    REQUEST_RESPONSE = "RequestResponse"
    EVENT = "Event"
    DRY_RUN = "DryRun"


@dataclass(frozen=True)
class FunctionIdentifier:
    """A FunctionName from the request path, split into the name and the qualifier."""

    name: str
    qualifier: str | None


@dataclass(frozen=True)
class ApiError:
    """An error response of the Lambda API: status, error type (`x-amzn-ErrorType`) and message."""

    status: int
    error_type: str
    message: str

    def body(self) -> bytes:
        """Return the JSON body that Lambda sends with an error of the `User` kind."""
        document = {"Type": "User", "message": self.message}
        return json.dumps(document, separators=(",", ":")).encode("utf-8")


def invoke_path_name(path: str) -> str | None:
    """Return the URL-decoded FunctionName of an Invoke request path, or None for another path."""
    found = _INVOKE_PATH.match(path)
    if found is None:
        return None
    return unquote(found.group("name"), errors="replace")


def parse_function_identifier(text: str, qualifier: str | None) -> FunctionIdentifier | ApiError:
    """Split a FunctionName into name and qualifier, checking it against the Qualifier parameter.

    Returns an ApiError (400 InvalidParameterValueException) for a malformed identifier or
    for a qualifier in the name that differs from the Qualifier query parameter.
    """
    found = _FULL_ARN.match(text) or _PARTIAL_ARN.match(text) or _NAME.match(text)
    if found is None or len(found.group("name")) > 64:
        return ApiError(
            400,
            "InvalidParameterValueException",
            f"Invalid function name {text!r}: use a function name (letters, digits, - and _, "
            "at most 64 characters), a partial ARN ACCOUNT:function:NAME, or a full ARN.",
        )

    in_name = found.group("qualifier")
    if in_name is not None and qualifier is not None and in_name != qualifier:
        return ApiError(
            400,
            "InvalidParameterValueException",
            f"The qualifier {in_name!r} in the function name does not match the Qualifier "
            f"parameter {qualifier!r}. Pass the qualifier in one place only.",
        )
    return FunctionIdentifier(found.group("name"), in_name or qualifier)


def parse_invocation_type(value: str | None) -> InvocationType | ApiError:
    """Read `X-Amz-Invocation-Type`, which defaults to RequestResponse."""
    if value is None or value == "":
        return InvocationType.REQUEST_RESPONSE
    try:
        return InvocationType(value)
    except ValueError:
        return ApiError(
            400,
            "InvalidParameterValueException",
            f"Invalid X-Amz-Invocation-Type {value!r}: use RequestResponse, Event or DryRun.",
        )


def function_arn(region: str, account_id: str, name: str, qualifier: str | None = None) -> str:
    """Return a function's ARN, with the qualifier appended when one is given."""
    arn = f"arn:aws:lambda:{region}:{account_id}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def function_not_found(arn: str) -> ApiError:
    """Return Lambda's 404 for a function (or a version or alias of it) that does not exist."""
    return ApiError(404, "ResourceNotFoundException", f"Function not found: {arn}")


def check_payload(payload: bytes) -> ApiError | None:
    """Return a 400 InvalidRequestContentException when a payload is not JSON, else None.

    An empty payload is valid, because Lambda then passes `{}` to the function.
    """
    if not payload:
        return None
    try:
        json.loads(payload)
    except UnicodeDecodeError:
        reason = "the payload is not valid UTF-8"
    except ValueError as error:
        reason = str(error)
    else:
        return None
    return ApiError(
        400,
        "InvalidRequestContentException",
        f"Could not parse request body into json: {reason}. Send a JSON document as the payload.",
    )


def payload_too_large(size: int, limit: int, invocation_type: InvocationType) -> ApiError:
    """Return Lambda's 413 for a request payload over the limit of its invocation type."""
    return ApiError(
        413,
        "RequestTooLargeException",
        f"The {invocation_type.value} payload is {size} bytes, over the {limit}-byte limit of "
        "the Invoke operation. Send a smaller payload.",
    )
