"""Function identifiers, invocation types and error documents of Lambda's Invoke API."""

from __future__ import annotations

import json

import pytest

from devd.runtime.invoke_names import (
    ApiError,
    FunctionIdentifier,
    InvocationType,
    check_payload,
    function_not_found,
    invoke_path_name,
    parse_function_identifier,
    parse_invocation_type,
)


@pytest.mark.parametrize(
    ("text", "qualifier", "expected"),
    [
        ("my-fn", None, FunctionIdentifier("my-fn", None)),
        ("my-fn:$LATEST", None, FunctionIdentifier("my-fn", "$LATEST")),
        ("my-fn", "live", FunctionIdentifier("my-fn", "live")),
        ("123456789012:function:my-fn", None, FunctionIdentifier("my-fn", None)),
        ("123456789012:function:my-fn:3", None, FunctionIdentifier("my-fn", "3")),
        ("arn:aws:lambda:eu-west-1:123456789012:function:my_fn", None, FunctionIdentifier("my_fn", None)),
        ("arn:aws:lambda:eu-west-1:123456789012:function:my_fn:$LATEST", "$LATEST",
         FunctionIdentifier("my_fn", "$LATEST")),
    ],
)
def test_identifier_forms(text, qualifier, expected) -> None:
    assert parse_function_identifier(text, qualifier) == expected


@pytest.mark.parametrize("text", ["", "a/b", "x" * 65, "arn:aws:s3:::bucket", "a:b:c:d"])
def test_invalid_identifier_rejected(text) -> None:
    error = parse_function_identifier(text, None)

    assert isinstance(error, ApiError)
    assert error.status == 400
    assert error.error_type == "InvalidParameterValueException"


def test_conflicting_qualifiers_rejected() -> None:
    error = parse_function_identifier("my-fn:1", "2")

    assert isinstance(error, ApiError)
    assert "'1'" in error.message
    assert "'2'" in error.message


def test_invoke_path_name_decoded() -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:f"
    encoded = arn.replace(":", "%3A")

    assert invoke_path_name(f"/2015-03-31/functions/{encoded}/invocations") == arn
    assert invoke_path_name("/2015-03-31/functions/f/invocations/") == "f"
    assert invoke_path_name("/2015-03-31/functions/f") is None
    assert invoke_path_name("/2015-03-31/functions/a/b/invocations") is None


def test_invocation_types() -> None:
    assert parse_invocation_type(None) is InvocationType.REQUEST_RESPONSE
    assert parse_invocation_type("Event") is InvocationType.EVENT
    assert parse_invocation_type("DryRun") is InvocationType.DRY_RUN
    assert isinstance(parse_invocation_type("event"), ApiError)


def test_payload_check() -> None:
    assert check_payload(b"") is None
    assert check_payload(b'{"a": 1}') is None
    assert check_payload(b"[1]") is None

    error = check_payload(b"{oops")
    assert isinstance(error, ApiError)
    assert error.status == 400
    assert error.error_type == "InvalidRequestContentException"
    assert isinstance(check_payload(b"\xff\xfe"), ApiError)


def test_not_found_body() -> None:
    error = function_not_found("arn:aws:lambda:us-east-1:123456789012:function:x")

    assert error.status == 404
    assert json.loads(error.body()) == {
        "Type": "User",
        "message": "Function not found: arn:aws:lambda:us-east-1:123456789012:function:x",
    }
