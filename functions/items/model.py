"""Items and the in-memory catalog that both item handlers read."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Item:
    """A catalog entry."""

    id: str
    name: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


# NOTE: each function runs in its own process, so this catalog is a fixed read-only sample.
# An item that create_item returns is never stored, and get_item cannot find it.
CATALOG: dict[str, Item] = {
    item.id: item
    for item in (
        Item(id="1", name="apple"),
        Item(id="2", name="banana"),
        Item(id="3", name="cherry"),
    )
}


def find_item(item_id: str) -> Item | None:
    """Return the catalog item with this id, or None."""
    return CATALOG.get(item_id)


def new_item(name: str) -> Item:
    """Create an item with a random UUID as its id."""
    return Item(id=str(uuid.uuid4()), name=name)
