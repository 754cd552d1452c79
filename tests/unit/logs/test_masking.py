"""Secret masking of log lines before they reach a view."""

from __future__ import annotations

import pytest

from devd.logs.masking import mask_secrets


@pytest.mark.parametrize(
    ("text", "hidden", "kept"),
    [
        ("key AKIAIOSFODNN7EXAMPLE used", "IOSFODNN7EXAMPLE", "AKIA****"),
        ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG", "wJalrXUtnFEMI", "AWS_SECRET_ACCESS_KEY=****"),
        ('{"sessionToken": "IQoJb3JpZ2luX2Vj"}', "IQoJb3JpZ2luX2Vj", '"sessionToken": "****'),
        ("Authorization: Bearer abc123", "abc123", "Authorization: Bearer ****"),
        ("x-amz-security-token=FwoGZXIvYXdz", "FwoGZXIvYXdz", "x-amz-security-token=****"),
    ],
)
def test_mask_secrets_hides_value(text: str, hidden: str, kept: str) -> None:
    masked = mask_secrets(text)

    assert hidden not in masked
    assert kept in masked


def test_mask_secrets_keeps_plain_text() -> None:
    assert mask_secrets("GET /hello 200 in 3 ms") == "GET /hello 200 in 3 ms"
