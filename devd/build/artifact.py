"""Reproducible zip files of build directories, in the form Lambda deploys.

The bytes of a zip depend only on the paths, contents and executable bits of the files:

- entries are regular files sorted by their path (no directory entries), symbolic links
  followed;
- every entry has the timestamp 1980-01-01 00:00:00, the earliest a zip can store;
- every entry is marked as made on Unix with mode 0644, or 0755 when any execute bit of the
  file is set;
- entries are deflated at level 6, and carry no extra fields and no comments.

Deflate output is the same for the same zlib version, so two builds on one machine give equal
bytes, and machines with different zlib versions may not.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
DEFLATE_LEVEL = 6
FILE_MODE = 0o644
EXECUTABLE_MODE = 0o755
_UNIX_SYSTEM = 3
_COPY_BUFFER_BYTES = 1024 * 1024


@dataclass(frozen=True)
class ZipEntry:
    """One file of a build directory as the zip stores it."""

    name: str
    """Path relative to the zipped directory, with `/` separators."""
    source: Path
    executable: bool


@dataclass(frozen=True)
class ZipArtifact:
    """A written zip and its digest."""

    path: Path
    sha256: str
    """Base64 of the SHA-256 digest of the zip's bytes, as Terraform's `filebase64sha256` and
    Lambda's `CodeSha256` write it."""


def collect_entries(directory: Path) -> list[ZipEntry]:
    """Return the regular files under `directory`, following symbolic links, sorted by name.

    A symbolic link whose target is missing is left out, and so is a link to a directory
    that contains it, which would repeat the tree without end.
    """
    entries: list[ZipEntry] = []
    _walk(directory, directory, frozenset(), entries)
    entries.sort(key=lambda entry: entry.name.encode())
    return entries


def _walk(
    root: Path, directory: Path, ancestors: frozenset[tuple[int, int]], entries: list[ZipEntry]
) -> None:
    status = directory.stat()
    key = (status.st_dev, status.st_ino)
    if key in ancestors:
        return
    ancestors = ancestors | {key}

    for child in directory.iterdir():
        try:
            mode = child.stat().st_mode
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(mode):
            _walk(root, child, ancestors, entries)
        elif stat.S_ISREG(mode):
            entries.append(ZipEntry(child.relative_to(root).as_posix(), child, bool(mode & 0o111)))


def entry_info(entry: ZipEntry, size: int) -> zipfile.ZipInfo:
    """Return the fixed header of one entry: name, timestamp, mode and compression."""
    info = zipfile.ZipInfo(entry.name, date_time=ZIP_EPOCH)
    info.create_system = _UNIX_SYSTEM
    mode = EXECUTABLE_MODE if entry.executable else FILE_MODE
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    _set_compress_level(info, DEFLATE_LEVEL)
    info.file_size = size
    return info


def _set_compress_level(info: zipfile.ZipInfo, level: int) -> None:
    # `ZipFile.open(info, "w")` compresses at the level stored in the ZipInfo, whose public
    # name `compress_level` arrived in Python 3.13. Earlier versions call it `_compresslevel`.
    if "compress_level" in dir(zipfile.ZipInfo):
        info.compress_level = level  # type: ignore[attr-defined]
    else:
        info._compresslevel = level  # type: ignore[attr-defined]


def write_zip(directory: Path, destination: Path) -> ZipArtifact:
    """Write the files under `directory` into a reproducible zip at `destination`.

    The zip is written beside `destination` and renamed into place, so a reader never sees
    a partial file.
    """
    partial = destination.with_name(f".partial-{destination.name}")
    with zipfile.ZipFile(partial, "w") as archive:
        for entry in collect_entries(directory):
            size = entry.source.stat().st_size
            with (
                entry.source.open("rb") as source,
                archive.open(entry_info(entry, size), "w") as target,
            ):
                shutil.copyfileobj(source, target, _COPY_BUFFER_BYTES)

    partial.replace(destination)
    return ZipArtifact(destination, base64_sha256(destination))


def publish_copy(source: Path, destination: Path) -> None:
    """Copy a zip to `destination` through a temporary file beside it, renamed into place.

    Terraform may hash `destination` at any moment (`filebase64sha256` during plan), so it
    sees the previous zip or the new one, never a partial file. Missing parent directories
    are created.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f".partial-{destination.name}")
    shutil.copyfile(source, partial)
    partial.replace(destination)


def base64_sha256(path: Path) -> str:
    """Return base64 of the SHA-256 digest of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_COPY_BUFFER_BYTES):
            digest.update(chunk)
    return base64.b64encode(digest.digest()).decode("ascii")
