"""POST /items: validate the JSON body and return the new item."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
from typing import Any

from model import new_item
from validation import ValidationError, validate_new_item

logger = logging.getLogger()
logger.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())


def _response(status_code: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status_code,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
    }


def _read_body(event: dict[str, Any]) -> str:
    """Return the request body as text, decoding it when API Gateway sent it as base64."""
    body = event.get("body")
    if body is None:
        raise ValidationError("missing request body, expected a JSON object with a name field")

    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as error:
            message = f"request body is not valid base64-encoded UTF-8: {error}"
            raise ValidationError(message) from error
    return body


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Return 201 with the created item, or 400 with the reason the body is invalid."""
    try:
        text = _read_body(event)
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValidationError(f"request body is not valid JSON: {error}") from error
        name = validate_new_item(payload)
    except ValidationError as error:
        logger.info("request %s: invalid item: %s", getattr(context, "aws_request_id", None), error)
        return _response(400, {"message": str(error)})

    return _response(201, new_item(name).to_dict())
