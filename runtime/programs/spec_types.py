"""Building blocks shared by every ProgramConfig spec section: the base model and field types.

Every model here is also the source of the CRD's OpenAPI schema (runtime/programs/crd.py), so
each field carries a `description` (it becomes `kubectl explain` text) and only constraints a
Kubernetes structural schema can express (`ge`/`le`, patterns, lengths, enums).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Strict,
    StringConstraints,
)
from pydantic.alias_generators import to_camel

# Points and yen are whole numbers (int64 in the ledger). These caps keep any sum of a few
# values far from int64 overflow while staying above anything a real program grants.
MAX_POINTS = 1_000_000_000
MAX_YEN = 1_000_000_000_000
MAX_PERCENT = 10_000  # 100x: multipliers above this are surely typos

# Ids inside a program (criteria, rules, kinds, tiers...): what clients and reports quote.
ID_PATTERN = r"^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$"
# The program id is a NATS subject token and part of database keys: lower-case DNS label, short.
PROGRAM_ID_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$"
# Codes from the sponsor's own systems (stores, categories, SKUs): kept as they are written.
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$"
URL_PATTERN = r"^https?://[^\s]+$"
COLOR_PATTERN = r"^#[0-9a-fA-F]{6}$"

# The point kind of ordinary points; period-limited kinds must use other ids.
NORMAL_KIND = "normal"


class SpecModel(BaseModel):
    """Base of every spec section: camelCase in YAML/JSON, snake_case in Python, no unknown keys."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )


def _reject_numbers(value: Any) -> Any:
    # Lax pydantic reads an int as a Unix timestamp; a config date must be written as text.
    if isinstance(value, bool | int | float):
        raise ValueError("write dates as text: YYYY-MM-DD or RFC 3339 date-time")
    return value


# Numbers are strict: "5", 5.0 or true are not accepted where an integer is meant.
Int = Annotated[int, Strict()]
Bool = Annotated[bool, Strict()]
Id = Annotated[str, StringConstraints(pattern=ID_PATTERN, max_length=63)]
Code = Annotated[str, StringConstraints(pattern=CODE_PATTERN)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Text = Annotated[str, StringConstraints(max_length=1000)]
Url = Annotated[str, StringConstraints(pattern=URL_PATTERN, max_length=2048)]
# RFC 3339 with an offset: a campaign boundary is an instant, never a local wall-clock guess.
Timestamp = Annotated[AwareDatetime, BeforeValidator(_reject_numbers)]
Date = Annotated[dt.date, BeforeValidator(_reject_numbers)]

Rounding = Literal["floor", "round", "ceil"]
Channel = Literal["store", "app", "ecommerce", "b2b", "manufacturer"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Behaviour = Literal["storeVisit", "appLogin", "review", "survey", "custom"]
