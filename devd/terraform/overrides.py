"""Merge Terraform override files into the blocks they override.

Terraform reads `override.tf` and `*_override.tf` last and merges each of their blocks into the
block of the same type and labels: arguments replace arguments, and nested blocks of a type
replace all nested blocks of that type. A `locals` override replaces each named local wherever
it was defined.
"""

from __future__ import annotations

from dataclasses import replace

from devd.terraform.expr import Block


def merge_overrides(blocks: list[Block], overrides: list[Block]) -> tuple[Block, ...]:
    """Return blocks with every override merged in, in their original order."""
    merged = list(blocks)
    for override in overrides:
        if override.type == "locals":
            _merge_locals(merged, override)
            continue
        index = next((i for i, block in enumerate(merged)
                      if block.type == override.type and block.labels == override.labels), None)
        if index is None:
            merged.append(override)
        else:
            merged[index] = merge_block(merged[index], override)
    return tuple(merged)


def merge_block(base: Block, override: Block) -> Block:
    """Return base with the arguments and nested block types of override replacing its own."""
    attributes = {**base.attributes, **override.attributes}
    replaced = {child.type for child in override.blocks}
    nested = tuple(child for child in base.blocks if child.type not in replaced) + override.blocks
    return replace(base, attributes=attributes, blocks=nested)


def _merge_locals(blocks: list[Block], override: Block) -> None:
    remaining = dict(override.attributes)
    for index, block in enumerate(blocks):
        if block.type != "locals":
            continue
        overlap = {name: expr for name, expr in remaining.items() if name in block.attributes}
        if overlap:
            blocks[index] = replace(block, attributes={**block.attributes, **overlap})
            for name in overlap:
                del remaining[name]
    if remaining:
        blocks.append(replace(override, attributes=remaining))
