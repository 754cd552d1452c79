"""Mask AWS credentials and other secrets before a line reaches a view or a log file."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

MASK = "****"

_SECRET_WORDS = r"secret|token|password|passwd|credential|private[_-]?key|api[_-]?key|authorization"

_SECRET_WORD = re.compile(_SECRET_WORDS)
"""Words that make a variable or key name secret, such as DB_PASSWORD, GITHUB_TOKEN or
STRIPE_SECRET_KEY, matched in lower case: a case-insensitive search of an alternation is
about 20 times slower, and every output line of a worker is searched."""

_KEY_ID_PREFIXES = ("AKIA", "ASIA", "AROA", "AIDA")
_SESSION_TOKEN_PREFIXES = ("IQoJb3JpZ2lu", "FwoGZXIvYXdz")

_ACCESS_KEY_ID = re.compile(rf"\b(?:{'|'.join(_KEY_ID_PREFIXES)})[A-Z0-9]{{16}}\b")
"""AWS access key ids: long-term (AKIA), temporary (ASIA), role and user ids."""

_SESSION_TOKEN = re.compile(rf"\b(?:{'|'.join(_SESSION_TOKEN_PREFIXES)})[A-Za-z0-9+/=]{{16,}}")
"""STS session tokens, recognised without a key name next to them by the base64 prefixes that
they commonly start with ("IQoJb3JpZ2lu" and the older "FwoGZXIvYXdz")."""

_TOKEN_PREFIX = re.compile("|".join(_KEY_ID_PREFIXES + _SESSION_TOKEN_PREFIXES))
"""Any prefix of a key id or session token: one search of it costs less than a test per prefix."""

_SECRET_ASSIGNMENT = re.compile(
    rf"""(?ix)
    (["']?(?<![\w.-])(?=[\w.-]*?(?:{_SECRET_WORDS}))[\w.-]+["']?\s*[:=]\s*["']?)
    ((?:bearer|basic|aws4-hmac-sha256)\s+)?
    ([^"'\s,;}}]+)
    """
)
"""A secret-named key followed by its value, in env, JSON, header or INI form. An
Authorization scheme such as `Bearer` is kept and the credential after it masked. The
lookbehind lets a key start only where a name starts, so the search stays linear in the length
of a line."""


class KnownSecrets:
    """Values of secret-named variables that devd has seen, masked wherever they appear.

    A handler may print a secret without its name (`print(password)`), which no pattern
    recognises. Values shorter than `min_length` are not remembered, because masking them
    would hide ordinary words and numbers.
    """

    min_length = 6

    def __init__(self) -> None:
        self._values: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None

    def remember(self, environment: Mapping[str, str]) -> None:
        """Remember the values of the secret-named variables of an environment."""
        values = {value for name, value in environment.items()
                  if is_secret_name(name) and len(value) >= self.min_length}
        if values <= self._values:
            return
        self._values = self._values | values
        ordered = sorted(self._values, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(value) for value in ordered))

    def mask(self, text: str) -> str:
        """Return text with every remembered value replaced by ****."""
        return text if self._pattern is None else self._pattern.sub(MASK, text)


KNOWN_SECRETS = KnownSecrets()
"""The values that `mask_secrets` masks in every line."""


def mask_secrets(text: str) -> str:
    """Return text with AWS key ids, session tokens, values of secret-named keys and values in
    `KNOWN_SECRETS` replaced by ****.

    Each pattern runs only when a cheap substring test finds what it needs in the line, because
    most lines contain no secret and a regex search costs far more than `in`.
    """
    text = KNOWN_SECRETS.mask(text)
    if _TOKEN_PREFIX.search(text):
        text = _ACCESS_KEY_ID.sub(lambda m: m.group(0)[:4] + MASK, text)
        text = _SESSION_TOKEN.sub(MASK, text)
    if ("=" in text or ":" in text) and _SECRET_WORD.search(text.lower()):
        text = _SECRET_ASSIGNMENT.sub(lambda m: m.group(1) + (m.group(2) or "") + MASK, text)
    return text


def is_secret_name(name: str) -> bool:
    """Return whether the value of a variable or key must not be shown, judged by its name."""
    return bool(_SECRET_WORD.search(name.lower()))


def mask_environment(environment: Mapping[str, str]) -> dict[str, str]:
    """Return a copy of environment with the values of secret names, and secrets inside any
    value, masked."""
    return {name: MASK if is_secret_name(name) else mask_secrets(value) for name, value in environment.items()}


class MaskingFormatter(logging.Formatter):
    """A log formatter that masks secrets in the formatted record, traceback included."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_secrets(super().format(record))
