"""GET /items/{id}: return one item from the catalog."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from model import find_item

logger = logging.getLogger()
logger.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())


def _response(status_code: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status_code,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
    }


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Return 200 with the item, 404 when the catalog has no item with that id, or 400 without an id."""
    request_id = getattr(context, "aws_request_id", None)
    item_id = (event.get("pathParameters") or {}).get("id")
    if not item_id:
        logger.info("request %s: missing path parameter id", request_id)
        return _response(400, {"message": "missing path parameter id, expected /items/{id}"})

    item = find_item(item_id)
    if item is None:
        logger.info("request %s: item %s not found", request_id, item_id)
        return _response(404, {"message": f"item {item_id} not found"})
    return _response(200, item.to_dict())
