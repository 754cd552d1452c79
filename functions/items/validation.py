"""Validation of the POST /items request body."""

from __future__ import annotations

# JSON names of the Python types that json.loads produces, for error messages.
_JSON_TYPE_NAMES = {
    bool: "boolean",
    int: "number",
    float: "number",
    list: "array",
    dict: "object",
    type(None): "null",
}


class ValidationError(ValueError):
    """The request body is invalid. The message is safe to send back to the client."""


def validate_new_item(payload: object) -> str:
    """Check a parsed JSON body such as {"name": "apple"} and return the item name.

    Raises ValidationError unless the body is an object whose "name" is a string with
    at least one non-whitespace character. Surrounding whitespace is removed from the name.
    """
    if not isinstance(payload, dict):
        raise ValidationError(
            f"request body must be a JSON object with a name field, not {_json_type_name(payload)}"
        )
    if "name" not in payload:
        raise ValidationError("missing name in request body")

    name = payload["name"]
    if not isinstance(name, str):
        raise ValidationError(f"name must be a string, not {_json_type_name(name)}")

    name = name.strip()
    if not name:
        raise ValidationError("name must not be empty")
    return name


def _json_type_name(value: object) -> str:
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)
