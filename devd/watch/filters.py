"""Filters for changed paths: editor temp files and tool directories never trigger work."""

from __future__ import annotations

import fnmatch
from pathlib import PurePath

IGNORED_DIRECTORIES = frozenset({
    "node_modules", ".git", ".hg", ".svn", ".devd", ".terraform", "__pycache__", ".venv",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".idea", ".vscode", ".esbuild",
})
"""Directory names whose contents are tool state or build output, not sources."""

IGNORED_NAMES = ("*~", "*.swp", "*.swx", "*.swo", "*.tmp", "*.bak", ".#*", "#*#", "4913",
                 "*.pyc", ".DS_Store", "*.crswap", "*.tfstate", "*.tfstate.*", "devd_sam_metadata.tf.json")
"""File name patterns of editor temp and backup files, tool state, and the SAM metadata that
devd itself writes into the Terraform directory."""


def is_relevant(path: PurePath) -> bool:
    """Return True when a change to path may change a build or the inventory."""
    if any(part in IGNORED_DIRECTORIES for part in path.parts[:-1]):
        return False
    name = path.name
    if name in IGNORED_DIRECTORIES:
        return False
    return not any(fnmatch.fnmatchcase(name, pattern) for pattern in IGNORED_NAMES)
