"""Catalog items: what an admin may write, and what makes an item orderable now."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from runtime.errors import FailedPrecondition, InvalidArgument

# Items of the platform's shared catalog live under this program id. Real program ids are
# lower-case DNS labels, so they can never collide with it.
SHARED_PROGRAM = "_shared"

# Same rule as SKUs in program config (`catalog.excludedSkus`), so an exclusion can name any SKU.
SKU_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
CATEGORY_PATTERN = SKU_PATTERN
URL_PATTERN = re.compile(r"^https://[^\s]{1,2040}$")
MAX_POINTS = 1_000_000_000
MAX_TITLE = 200
MAX_DESCRIPTION = 5000
MAX_IMAGES = 10
MAX_PER_MEMBER = 1_000_000
MAX_STOCK = 1_000_000_000


class ItemType(StrEnum):
    PHYSICAL = "physical"
    EXPERIENCE = "experience"
    EGIFT = "egift"
    DONATION = "donation"
    LOTTERY_PRIZE = "lottery_prize"

    @property
    def shipped(self) -> bool:
        """Goods that travel to the member's address (shipping fees and regions apply)."""
        return self in (ItemType.PHYSICAL, ItemType.LOTTERY_PRIZE)

    @property
    def uses_codes(self) -> bool:
        """Its stock is a pool of codes, each given out once."""
        return self is ItemType.EGIFT


class ItemStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    ARCHIVED = "archived"


@dataclass(frozen=True, slots=True)
class ItemDraft:
    """The fields an admin writes (create, update, CSV row)."""

    sku: str
    title: str
    type: ItemType | None
    price_points: int
    description: str = ""
    category: str = ""
    image_urls: tuple[str, ...] = ()
    available_from: datetime | None = None
    available_until: datetime | None = None
    max_per_member: int = 0
    shipping_fee_points: int = 0
    low_stock_threshold: int = 0
    status: ItemStatus = ItemStatus.ACTIVE


@dataclass(frozen=True, slots=True)
class StockLevel:
    unlimited: bool
    on_hand: int
    reserved: int
    codes_available: int = 0

    @property
    def available(self) -> int:
        return max(0, self.on_hand - self.reserved)

    def can_supply(self, quantity: int) -> bool:
        return self.unlimited or self.available >= quantity


@dataclass(frozen=True, slots=True)
class Item:
    item_id: str
    owner_program: str
    draft: ItemDraft
    stock: StockLevel
    created_at: datetime
    updated_at: datetime

    @property
    def sku(self) -> str:
        return self.draft.sku

    @property
    def type(self) -> ItemType:
        assert self.draft.type is not None  # stored items always have one
        return self.draft.type

    @property
    def shared(self) -> bool:
        return self.owner_program == SHARED_PROGRAM

    def available_at(self, now: datetime) -> bool:
        d = self.draft
        if d.status is not ItemStatus.ACTIVE:
            return False
        if d.available_from is not None and now < d.available_from:
            return False
        return d.available_until is None or now < d.available_until


def field_name(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def require_sku(sku: str, field: str = "sku") -> str:
    sku = sku.strip()
    if not sku:
        raise InvalidArgument("sku is required", field=field)
    if not SKU_PATTERN.match(sku):
        raise InvalidArgument(
            f"sku {sku[:80]!r} must be 1-64 letters, digits or . _ / - (starting with a letter "
            "or digit)",
            field=field,
        )
    return sku


def validate_draft(draft: ItemDraft, prefix: str = "item") -> ItemDraft:
    """The draft with text trimmed, or InvalidArgument naming the first field at fault."""

    def f(name: str) -> str:
        return field_name(prefix, name)

    sku = require_sku(draft.sku, f("sku"))
    title = draft.title.strip()
    if not title:
        raise InvalidArgument("title is required", field=f("title"))
    if len(title) > MAX_TITLE:
        raise InvalidArgument(f"title is longer than {MAX_TITLE} characters", field=f("title"))
    if len(draft.description) > MAX_DESCRIPTION:
        raise InvalidArgument(
            f"description is longer than {MAX_DESCRIPTION} characters", field=f("description")
        )
    category = draft.category.strip()
    if category and not CATEGORY_PATTERN.match(category):
        raise InvalidArgument(
            "category must be a code: 1-64 letters, digits or . _ / -", field=f("category")
        )
    if draft.type is None:
        raise InvalidArgument(
            "type is required: physical, experience, egift, donation or lottery_prize",
            field=f("type"),
        )
    _points_in_range(draft.price_points, f("price_points"))
    _points_in_range(draft.shipping_fee_points, f("shipping_fee_points"))
    if len(draft.image_urls) > MAX_IMAGES:
        raise InvalidArgument(f"at most {MAX_IMAGES} images", field=f("image_urls"))
    for index, url in enumerate(draft.image_urls):
        if not URL_PATTERN.match(url):
            raise InvalidArgument(
                "image URLs must be https URLs without spaces", field=f(f"image_urls[{index}]")
            )
    if (
        draft.available_from
        and draft.available_until
        and draft.available_until <= draft.available_from
    ):
        raise InvalidArgument(
            "available_until must be after available_from", field=f("available_until")
        )
    for name, value in (
        ("max_per_member", draft.max_per_member),
        ("low_stock_threshold", draft.low_stock_threshold),
    ):
        if not 0 <= value <= MAX_PER_MEMBER:
            raise InvalidArgument(f"{name} must be between 0 and {MAX_PER_MEMBER}", field=f(name))
    if draft.status is ItemStatus.ARCHIVED:
        raise InvalidArgument(
            "status may be active or inactive; archive an item with DeleteItem", field=f("status")
        )
    return replace(draft, sku=sku, title=title, category=category)


def validate_initial_stock(item_type: ItemType, initial_stock: int, unlimited: bool) -> None:
    if not 0 <= initial_stock <= MAX_STOCK:
        raise InvalidArgument(
            f"initial_stock must be between 0 and {MAX_STOCK}", field="initial_stock"
        )
    if item_type.uses_codes and (initial_stock or unlimited):
        raise InvalidArgument(
            "an e-gift item's stock is its code pool: upload codes with UploadCodes instead",
            field="unlimited_stock" if unlimited else "initial_stock",
        )
    if unlimited and initial_stock:
        raise InvalidArgument(
            "initial_stock does not apply to unlimited stock", field="initial_stock"
        )


def check_type_unchanged(current: ItemType, new: ItemType | None, field: str = "item.type") -> None:
    # Stock of an e-gift item is its code pool and orders keep the type they were priced with.
    if new is not None and new is not current:
        raise FailedPrecondition(
            f"an item's type never changes (it is {current.value}): create a new SKU instead",
            reason="TYPE_IMMUTABLE",
            field=field,
        )


def _points_in_range(value: int, field: str) -> None:
    if value < 0:
        raise InvalidArgument(f"{field.rsplit('.', 1)[-1]} must not be negative", field=field)
    if value > MAX_POINTS:
        raise InvalidArgument(
            f"{field.rsplit('.', 1)[-1]} must be at most {MAX_POINTS}", field=field
        )
