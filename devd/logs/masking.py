"""Mask AWS credentials and other secrets before a line reaches a view or a log file."""

from __future__ import annotations

import re

_MASK = "****"

_ACCESS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AROA|AIDA)[A-Z0-9]{16}\b")
"""AWS access key ids: long-term (AKIA), temporary (ASIA), role and user ids."""

_SECRET_ASSIGNMENT = re.compile(
    r"""(?ix)
    (["']?(?:aws_secret_access_key|aws_session_token|secret_access_key|session_token|
        secretaccesskey|sessiontoken|password|x-amz-security-token|authorization)["']?
    \s*[:=]\s*["']?)
    ((?:bearer|basic|aws4-hmac-sha256)\s+)?
    ([^"'\s,;}]+)
    """
)
"""A secret-named key followed by its value, in env, JSON, header or INI form. An
Authorization scheme such as `Bearer` is kept and the credential after it masked."""


def mask_secrets(text: str) -> str:
    """Return text with AWS key ids and values of secret-named keys replaced by ****."""
    text = _ACCESS_KEY_ID.sub(lambda m: m.group(0)[:4] + _MASK, text)
    return _SECRET_ASSIGNMENT.sub(lambda m: m.group(1) + (m.group(2) or "") + _MASK, text)

