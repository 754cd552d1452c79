"""Secret masking of log lines before they reach a view."""

from __future__ import annotations

import io
import logging

import pytest

from devd.logs.masking import (
    KnownSecrets,
    MaskingFormatter,
    mask_environment,
    mask_secrets,
)


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


@pytest.mark.parametrize(
    ("text", "hidden", "kept"),
    [
        ("STRIPE_SECRET_KEY=sk_live_51Habc", "sk_live_51Habc", "STRIPE_SECRET_KEY=****"),
        ("GITHUB_TOKEN=ghp_16C7e42F292c6912E7710c8", "ghp_16C7e42F", "GITHUB_TOKEN=****"),
        ('{"DB_PASSWORD": "hunter2", "region": "eu-west-1"}', "hunter2", '"region": "eu-west-1"'),
        ("api_key: 0123456789abcdef", "0123456789abcdef", "api_key: ****"),
        ("creds IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJH end", "IQoJb3JpZ2luX2VjEJr", "creds **** end"),
        ("old FwoGZXIvYXdzEBYaDHVzZXJuYW1lMTIz token", "FwoGZXIvYXdzEBYa", "old **** token"),
        ("ASIAY34FZKBOKMUTVV7A expires", "Y34FZKBOKMUTVV7A", "ASIA**** expires"),
    ],
    ids=["secret-key", "token", "json-password", "api-key", "session-token", "old-session-token", "temporary-key"],
)
def test_mask_secrets_more_names(text: str, hidden: str, kept: str) -> None:
    masked = mask_secrets(text)

    assert hidden not in masked
    assert kept in masked


def test_mask_environment_by_name_and_value() -> None:
    masked = mask_environment({"DB_PASSWORD": "hunter2", "TABLE": "items", "NOTE": "key AKIAIOSFODNN7EXAMPLE"})

    assert masked == {"DB_PASSWORD": "****", "TABLE": "items", "NOTE": "key AKIA****"}


def test_masking_formatter_masks_tracebacks() -> None:
    logger = logging.getLogger("devd.test.masking")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(MaskingFormatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    try:
        try:
            raise ValueError("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG rejected")
        except ValueError:
            logger.exception("request with token=abc123def failed")
    finally:
        logger.removeHandler(handler)

    output = stream.getvalue()
    assert "abc123def" not in output
    assert "wJalrXUtnFEMI" not in output
    assert "token=****" in output
    assert "ValueError: AWS_SECRET_ACCESS_KEY=****" in output


def test_known_secrets_mask_bare_values() -> None:
    known = KnownSecrets()
    known.remember({"DB_PASSWORD": "correct-horse", "STRIPE_SECRET_KEY": "sk_live_abcdef", "TABLE": "items-table",
                    "API_TOKEN": "short"})

    assert known.mask("connecting with correct-horse to items-table") == "connecting with **** to items-table"
    assert known.mask("key sk_live_abcdef") == "key ****"
    assert known.mask("a short word") == "a short word"


def test_known_secrets_mask_longest_first() -> None:
    known = KnownSecrets()
    known.remember({"A_SECRET": "abcdefgh"})
    known.remember({"B_SECRET": "abcdefghijkl"})

    assert known.mask("abcdefghijkl") == "****"
