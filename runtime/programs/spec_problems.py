"""Problems found in a ProgramConfig spec, each naming its field as a path like
`spec.tiers.levels[2].minPoints`, whether pydantic or a cross-field check found it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from runtime.errors import InvalidArgument

ROOT = "spec"


@dataclass(frozen=True, order=True)
class SpecProblem:
    """One thing wrong with a spec: the field at fault (camelCase path) and what to change."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class SpecInvalid(InvalidArgument):
    """A spec with problems; `.problems` lists them all, `.field` names the first."""

    default_reason = "INVALID_PROGRAM_CONFIG"

    def __init__(self, problems: Sequence[SpecProblem]) -> None:
        self.problems = list(problems)
        shown = "; ".join(str(p) for p in self.problems[:5])
        more = len(self.problems) - 5
        if more > 0:
            shown += f"; and {more} more"
        super().__init__(
            f"invalid program config: {shown}",
            field=self.problems[0].field if self.problems else ROOT,
        )


def field_path(*parts: str | int, root: str = ROOT) -> str:
    """`field_path("tiers", "levels", 2, "minPoints")` -> `spec.tiers.levels[2].minPoints`."""
    path = root
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def problems_from_validation_error(error: ValidationError, root: str = ROOT) -> list[SpecProblem]:
    """Pydantic's errors in the cross-field checks' form (locs are the camelCase aliases)."""
    problems = []
    for item in error.errors(include_url=False):
        path = field_path(*(p for p in item["loc"] if isinstance(p, str | int)), root=root)
        problems.append(SpecProblem(path, _message(item["type"], item["msg"], item.get("input"))))
    return problems


def _message(kind: str, msg: str, given: object) -> str:
    if kind == "extra_forbidden":
        return "unknown field (check its spelling: `kubectl explain programconfig.spec` lists them)"
    if kind == "missing":
        return "required"
    if kind == "value_error":
        msg = msg.removeprefix("Value error, ")
    elif isinstance(given, str | int | float | bool) and len(repr(given)) <= 60:
        # Say what was written: "Input should be a valid integer" alone hides a quoted "5".
        msg = f"{msg} (got {given!r})"
    return msg[:1].lower() + msg[1:]
