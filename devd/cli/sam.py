"""`devd sam metadata|template`: write files for AWS SAM that point at devd's builds."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:
    """Add `devd sam` and its two subcommands to the parser."""
    from devd.cli import terraform_options

    sam = commands.add_parser("sam", help="write files for AWS SAM that point at devd's builds")
    sam_files = sam.add_subparsers(dest="sam_command", required=True)
    metadata = sam_files.add_parser(
        "metadata", help="write sam_metadata_* resources for `sam build/local ... --hook-name terraform`")
    terraform_options(metadata)
    metadata.add_argument("-o", "--output", type=Path,
                          help="output file, relative to the project root (default: <infra>/devd_sam_metadata.tf.json)")
    metadata.set_defaults(run=_run)
    template = sam_files.add_parser("template", help="write a SAM template for `sam local start-api -t`")
    terraform_options(template)
    template.add_argument("-o", "--output", type=Path,
                          help="output file, relative to the project root (default: .devd/template.yaml)")
    template.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from devd.cli import settings_for
    from devd.sam.commands import sam_metadata_command, sam_template_command

    command = sam_metadata_command if args.sam_command == "metadata" else sam_template_command
    return command(settings_for(args), args.output)
