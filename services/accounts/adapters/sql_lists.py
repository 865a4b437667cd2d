"""`column = ANY(:list)` with the whole list as one array parameter.

SQLAlchemy renders `column.in_(values)` as one placeholder per value, so every list length
is a new SQL text that the driver parses again (costly at 1,000 values) and PostgreSQL cannot
reuse a prepared plan. One array parameter keeps the statement text the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import String, any_, literal
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement


def any_of(column: InstrumentedAttribute[Any], values: Iterable[str]) -> ColumnElement[bool]:
    return column == any_(literal(list(values), ARRAY(String())))
