"""Write generated files only when their content changes, and never half-written."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

logger = logging.getLogger("devd.sam")

# mkstemp creates files that only their owner can read, but other tools and users read
# generated files as they read source files.
_NEW_FILE_MODE = 0o644


def write_if_changed(path: Path, text: str) -> bool:
    """Write `text` to `path` unless the file already contains exactly it, and return True if it wrote.

    The text goes to a temporary file in the same directory first and then replaces `path`,
    so Terraform or SAM reading the file at the same moment reads the old or the new content.
    Creates missing parent directories. A replaced file keeps its mode, and a new file gets 0644.
    """
    data = text.encode("utf-8")
    mode = _NEW_FILE_MODE
    try:
        if path.read_bytes() == data:
            logger.debug("%s is up to date", path)
            return False
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        pass

    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

    logger.info("wrote %s", path)
    return True
