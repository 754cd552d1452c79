"""Find the directory whose contents Terraform packages for a function or layer.

Terraform itself only receives a zip: a `filename`, or an S3 object. devd follows that value back
to where the zip comes from: a `data "archive_file"` (its `source_dir`, the directory of its
`source_file`), possibly through an `aws_s3_object` whose `source` is that archive. A zip
that devd builds itself is found in the `[packages]` table of devd.toml, which maps each zip
path to its source directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Mapping

from devd.inventory import Problem
from devd.terraform.modules import ResourceInstance
from devd.terraform.values import Unknown


class CodeLocator:
    """Resolve code directories against all resource instances of a configuration."""

    def __init__(self, resources: dict[str, ResourceInstance], report: Callable[[Problem], None],
                 root_dir: Path | None = None, packages: Mapping[Path, Path] | None = None) -> None:
        """`packages` maps absolute zip paths to source directories; relative `filename`
        values resolve against `root_dir`, where Terraform runs."""
        self.resources = resources
        self.report = report
        self.root_dir = root_dir
        self.packages = packages or {}
        self._archives_by_output: dict[str, ResourceInstance] | None = None

    def package(self, resource: ResourceInstance) -> Path | None:
        """Return the absolute zip path of a function whose `filename` the packages table maps."""
        filename = resource.get("filename")
        if not isinstance(filename, str) or self.root_dir is None:
            return None
        path = (self.root_dir / filename).resolve()
        return path if path in self.packages else None

    def code_dir(self, resource: ResourceInstance) -> str | None:
        """Return the code directory of a function or layer, relative to the Terraform root."""
        filename = resource.get("filename")
        if filename is not None:
            return self._from_zip(resource, filename, "filename")
        s3_key = resource.get("s3_key")
        if s3_key is not None:
            s3_object = self._s3_object(s3_key)
            if s3_object is not None:
                return self._from_zip(resource, s3_object.get("source"), "s3_key")
            self._problem(f"{resource.address} takes its code from S3 key {_show(s3_key)}, which no "
                          "aws_s3_object in this configuration uploads; devd cannot find its source", resource)
        return None

    def _from_zip(self, resource: ResourceInstance, value: Any, argument: str) -> str | None:
        archive = self._archive(value)
        if archive is not None:
            directory = _archive_dir(archive)
            if directory is None:
                self._problem(f"{resource.address} is packaged by {archive.address} from inline source blocks; "
                              "devd cannot build it (use source_dir or source_file)", resource)
            return directory
        if isinstance(value, str):
            package = (self.root_dir / value).resolve() if self.root_dir is not None else None
            if package is not None and package in self.packages:
                return os.path.relpath(self.packages[package], self.root_dir)
            self._problem(f"{resource.address} deploys the prebuilt file {value} ({argument}); devd cannot map "
                          "it back to source: add it to the [packages] table of devd.toml, such as "
                          f'"dist/NAME.zip" = "functions/NAME", or package it with an archive_file data source',
                          resource)
        return None

    def _archive(self, value: Any) -> ResourceInstance | None:
        if isinstance(value, Unknown):
            for address in sorted(value.resource_addresses()):
                archive = self.resources.get(address)
                if archive is not None and archive.type == "archive_file":
                    return archive
        if isinstance(value, str):
            return self._archives_by_output_path().get(value)
        return None

    def _archives_by_output_path(self) -> dict[str, ResourceInstance]:
        if self._archives_by_output is None:
            self._archives_by_output = {}
            for archive in self.resources.values():
                output = archive.get("output_path") if archive.type == "archive_file" else None
                if isinstance(output, str):
                    self._archives_by_output.setdefault(output, archive)
        return self._archives_by_output

    def _s3_object(self, key: Any) -> ResourceInstance | None:
        candidates = [r for r in self.resources.values() if r.type in ("aws_s3_object", "aws_s3_bucket_object")]
        if isinstance(key, Unknown):
            addresses = key.resource_addresses()
            return next((r for r in candidates if r.address in addresses), None)
        return next((r for r in candidates if r.get("key") == key), None)

    def _problem(self, message: str, resource: ResourceInstance) -> None:
        self.report(Problem(message, resource.block.file, resource.block.line))


def _archive_dir(archive: ResourceInstance) -> str | None:
    source_dir = archive.get("source_dir")
    if isinstance(source_dir, str):
        return source_dir
    source_file = archive.get("source_file")
    if isinstance(source_file, str):
        return os.path.dirname(source_file) or "."
    return None


def _show(value: Any) -> str:
    return value if isinstance(value, str) else "(known after apply)"
