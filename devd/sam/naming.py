"""Names and paths for the files that devd writes for AWS SAM.

CloudFormation logical ids may contain only ASCII letters and digits, and Terraform resource
names only letters, digits, underscores and dashes. Both must be unique in their file, so two
functions whose names differ only in punctuation get a suffix from their Terraform address.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable, Iterable, TypeVar

from devd.build.layout import address_digest

# CloudFormation allows 255 characters. The rest is left for a suffix and for the ids that
# SAM derives from a function's id, such as "<id>Role".
MAX_LOGICAL_ID_BASE = 200

_WORDS = re.compile(r"[A-Za-z0-9]+")
_NOT_IDENTIFIER = re.compile(r"[^a-z0-9]+")

Item = TypeVar("Item")


def logical_id(text: str, suffix: str = "", fallback: str = "Resource") -> str:
    """Return `text` as a CloudFormation logical id in PascalCase, such as "GetHelloFunction".

    Every run of ASCII letters and digits becomes one word with its first letter capitalized.
    `suffix` is appended unless the id already ends with it. `fallback` replaces a text
    without any ASCII letter or digit.
    """
    words = _WORDS.findall(text)
    base = "".join(word[0].upper() + word[1:] for word in words)[:MAX_LOGICAL_ID_BASE]
    base = base or fallback
    if suffix and not base.endswith(suffix):
        base += suffix
    return base


def terraform_name(text: str, fallback: str = "function") -> str:
    """Return `text` as a lower-case Terraform name part, such as "devd_example_dev_status"."""
    name = _NOT_IDENTIFIER.sub("_", text.lower()).strip("_")
    return name or fallback


def unique_names(
    items: Iterable[Item], name: Callable[[Item], str], address: Callable[[Item], str], separator: str = ""
) -> dict[str, Item]:
    """Name each item, adding a digest of its address to every name that two items share.

    Returns the names in sorted order. The digest depends only on the item's own address, so
    adding or removing an item renames only the items whose name it shares.
    """
    by_name: dict[str, list[Item]] = {}
    for item in items:
        by_name.setdefault(name(item), []).append(item)

    named: dict[str, Item] = {}
    for base, group in by_name.items():
        if len(group) == 1:
            named[base] = group[0]
            continue
        for item in group:
            named[f"{base}{separator}{address_digest(address(item))}"] = item
    return dict(sorted(named.items()))


def relative_path(path: Path, start: Path) -> str:
    """Return `path` relative to the directory `start`, with forward slashes.

    Both paths are absolute or relative to the same directory. The result may begin with "..".
    """
    relative = os.path.relpath(path, start)
    return Path(relative).as_posix()


def terraform_literal(text: str) -> str:
    """Escape the template sequences of a Terraform string, so `text` is read literally."""
    return text.replace("${", "$${").replace("%{", "%%{")
