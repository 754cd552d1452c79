"""Copies of directory trees into build directories, by hard link where that is safe."""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

logger = logging.getLogger("devd.build")

IgnoreFunction = Callable[[str, list[str]], set[str]]


@dataclass
class _TreeCopy:
    """The state of one `merge_tree` call: whether links still work and what was skipped."""

    hard_links: bool
    skipped: list[Path] = field(default_factory=list)

    def copy_file(self, source: str, target: str) -> str:
        if os.path.lexists(target):
            self.skipped.append(Path(target))
            return target

        if self.hard_links:
            try:
                os.link(source, target)
                return target
            except OSError as error:
                # Another filesystem, a filesystem without hard links, or a kernel that
                # protects links to files of other users: copy this file and the rest.
                logger.debug(
                    "hard link %s -> %s failed (%s): copying instead", source, target, error
                )
                self.hard_links = False
        shutil.copy2(source, target)
        return target


def merge_tree(
    source: Path, target: Path, *, hard_links: bool, ignore: IgnoreFunction | None = None
) -> list[Path]:
    """Copy the files under `source` into `target`, keeping files that `target` already has.

    Symbolic links are followed. With `hard_links`, files are hard-linked when the filesystem
    allows it and copied otherwise, so use it only for sources that are never written in
    place. Returns the target paths that existed already and were left as they were.
    """
    state = _TreeCopy(hard_links=hard_links)
    shutil.copytree(
        source,
        target,
        ignore=ignore,
        copy_function=state.copy_file,
        ignore_dangling_symlinks=True,
        dirs_exist_ok=True,
    )
    return state.skipped
