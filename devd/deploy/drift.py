"""Compare the deployed code with local builds: the hashes of recent builds, and the verdict."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from devd.build import layout
from devd.build.artifact import base64_sha256
from devd.deploy.model import Drift
from devd.inventory import Function

logger = logging.getLogger("devd.deploy")

HISTORY_LIMIT = 20
"""Hashes of local builds remembered per function."""


def classify(remote: str | None, deployed: bool, current: str | None, history: Iterable[str]) -> Drift:
    """Return how the deployed code hash compares with the newest local build and earlier ones.

    `deployed` is False when the function does not exist remotely. `current` is None when no
    local build exists, and then only a hash found in `history` has a known origin.
    """
    if not deployed:
        return Drift.NOT_DEPLOYED
    if remote is not None and remote == current:
        return Drift.UP_TO_DATE
    if remote is not None and remote in set(history):
        return Drift.LOCAL_CHANGES
    if current is None:
        return Drift.UNKNOWN
    return Drift.FOREIGN


class BuildHistory:
    """The base64 SHA-256 hashes of recent local builds per function, kept in a JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, list[str]]:
        try:
            document = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            logger.warning("ignoring the unreadable build history %s: %s", self.path, error)
            return {}
        return document if isinstance(document, dict) else {}

    def hashes(self, address: str) -> list[str]:
        """Return the remembered hashes of a function, oldest first."""
        values = self._read().get(address, [])
        return [value for value in values if isinstance(value, str)]

    def record(self, address: str, sha256: str) -> None:
        """Remember one build's hash, keeping the newest HISTORY_LIMIT."""
        document = self._read()
        hashes = [value for value in document.get(address, []) if value != sha256] + [sha256]
        document[address] = hashes[-HISTORY_LIMIT:]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f".partial-{self.path.name}")
        partial.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
        os.replace(partial, self.path)


def local_hashes(function: Function, state_dir: Path, history: BuildHistory) -> tuple[str | None, list[str]]:
    """Return the newest local build's hash and the hashes of every local build still known.

    The newest is the package zip that Terraform deploys, else the newest generation zip in
    `.devd/build`. Known builds are the history plus the generation zips still on disk.
    """
    zips = []
    function_dir = state_dir / "build" / layout.function_dir_name(function)
    for number in layout.generations(function_dir):
        path = layout.zip_path(function_dir, number)
        if path.is_file():
            zips.append(path)
    known = history.hashes(function.address) + [base64_sha256(path) for path in zips]

    current = None
    if function.package is not None and Path(function.package).is_file():
        current = base64_sha256(Path(function.package))
    elif zips:
        current = base64_sha256(zips[-1])
    return current, known
