"""Files for AWS SAM: Terraform metadata for SAM's Terraform hook, and a SAM template.

Both point SAM at devd's builds, so `sam local` runs the same handler code as `devd up`.
"""

from devd.sam.artifacts import (
    Artifact,
    ArtifactScan,
    SkippedFunction,
    artifacts_from_results,
    find_artifacts,
)
from devd.sam.metadata import metadata_document, render_metadata, write_metadata
from devd.sam.template import render_template, sam_template, write_template

__all__ = [
    "Artifact",
    "ArtifactScan",
    "SkippedFunction",
    "artifacts_from_results",
    "find_artifacts",
    "metadata_document",
    "render_metadata",
    "render_template",
    "sam_template",
    "write_metadata",
    "write_template",
]
