"""`devd sam metadata` and `devd sam template`: write the SAM files for the current builds.

Both read the inventory as `devd ls` does and point at the latest build of each function in
`.devd/build`, so they are meant to run while or after `devd up` has built the functions.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Iterable, TextIO

from devd.config import Settings
from devd.inventory import Function, Inventory
from devd.sam.artifacts import ArtifactScan, SkippedFunction, find_artifacts
from devd.sam.metadata import (
    METADATA_FILE_NAME,
    metadata_document,
    metadata_functions,
    write_metadata,
)
from devd.sam.template import TEMPLATE_FILE_NAME, sam_template, write_template
from devd.terraform.discover import discover
from devd.terraform.loader import TerraformOptions

logger = logging.getLogger("devd.sam")


def sam_metadata_command(
    settings: Settings, output: Path | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    """Write the SAM metadata `.tf.json` and return the exit status.

    `output` defaults to `devd_sam_metadata.tf.json` in the Terraform root module, and a
    relative `output` is taken from the project root. Returns 1, and writes nothing, when no
    function has both a build and a code directory.
    """
    inventory, scan = _read(settings, err)
    path = _output_path(output, settings.infra_dir / METADATA_FILE_NAME, settings.project_root)
    builds = {address: artifact.path for address, artifact in scan.artifacts.items()}

    included = metadata_functions(inventory, builds)
    skipped = list(scan.skipped)
    for function in inventory.functions:
        if function.address in builds and function not in included:
            reason = "its code directory is unknown, and SAM needs one in original_source_code"
            skipped.append(SkippedFunction(function.address, function.name, reason))

    _report_skipped(skipped, path, err)
    if not included:
        return _nothing_to_write(path, err)

    _warn_missing_code_dirs(included, err)
    document = metadata_document(inventory, builds, settings.infra_dir, settings.project_root)
    _report_written(path, write_metadata(path, document), len(included), out)
    return 0


def sam_template_command(
    settings: Settings, output: Path | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    """Write the SAM template and return the exit status.

    `output` defaults to `.devd/template.yaml`, and a relative `output` is taken from the
    project root. Returns 1, and writes nothing, when no function has a build.
    """
    inventory, scan = _read(settings, err)
    path = _output_path(output, settings.state_dir / TEMPLATE_FILE_NAME, settings.project_root)

    _report_skipped(scan.skipped, path, err)
    if not scan.artifacts:
        return _nothing_to_write(path, err)

    document = sam_template(inventory, scan.artifacts, path.parent, settings.project_root)
    _report_written(path, write_template(path, document), len(scan.artifacts), out)
    return 0


def _read(settings: Settings, err: TextIO) -> tuple[Inventory, ArtifactScan]:
    options = TerraformOptions(settings.infra_dir, settings.var_files, settings.variables, settings.environ)
    inventory = discover(options, settings.project_root)
    for problem in inventory.problems:
        print(f"problem: {problem}", file=err)
    return inventory, find_artifacts(inventory, settings.project_root, settings.state_dir)


def _output_path(output: Path | None, default: Path, project_root: Path) -> Path:
    if output is None:
        return default
    return output if output.is_absolute() else project_root / output


def _report_skipped(skipped: Iterable[SkippedFunction], path: Path, err: TextIO) -> None:
    for function in skipped:
        print(f"skipped {function.name} ({function.address}): {function.reason}", file=err)
        logger.info("left %s out of %s: %s", function.address, path, function.reason)


def _nothing_to_write(path: Path, err: TextIO) -> int:
    print(f"devd: {path} was not written because no function can go into it. "
          "Run `devd up` to build the functions.", file=err)
    return 1


def _warn_missing_code_dirs(functions: Iterable[Function], err: TextIO) -> None:
    for function in functions:
        if function.code_dir is not None and not Path(function.code_dir).is_dir():
            print(f"warning: {function.name}: code directory {function.code_dir} does not exist. "
                  "SAM rejects a missing original_source_code, so create the directory, "
                  "for example by running the build that writes it.", file=err)


def _report_written(path: Path, wrote: bool, count: int, out: TextIO) -> None:
    functions = f"{count} function{'s' if count != 1 else ''}"
    if wrote:
        print(f"wrote {path} ({functions})", file=out)
    else:
        print(f"{path} is up to date ({functions})", file=out)
