"""E-gift and coupon codes: uploaded into an item's pool, each handed out once, ever."""

from __future__ import annotations

from collections.abc import Sequence

from runtime.errors import InvalidArgument

MAX_CODES_PER_UPLOAD = 10_000
MAX_CODE_LENGTH = 128


def validate_codes(codes: Sequence[str], field: str = "codes") -> list[str]:
    if not codes:
        raise InvalidArgument("at least one code is required", field=field)
    if len(codes) > MAX_CODES_PER_UPLOAD:
        raise InvalidArgument(
            f"at most {MAX_CODES_PER_UPLOAD} codes per upload: split the file", field=field
        )
    seen: dict[str, int] = {}
    out = []
    for index, raw in enumerate(codes):
        code = raw.strip()
        if not code or len(code) > MAX_CODE_LENGTH or not code.isprintable():
            raise InvalidArgument(
                f"a code is 1-{MAX_CODE_LENGTH} printable characters", field=f"{field}[{index}]"
            )
        if code in seen:
            raise InvalidArgument(
                f"code listed twice (first at {field}[{seen[code]}])", field=f"{field}[{index}]"
            )
        seen[code] = index
        out.append(code)
    return out
