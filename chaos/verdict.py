"""The checker's findings: one `Property` per promise the system makes, and the `Verdict`."""

from __future__ import annotations

from dataclasses import dataclass, field

_SHOWN_PROBLEMS = 5


@dataclass
class Property:
    name: str
    checked: int = 0  # how many things (programs, requests, events, orders) were examined
    problems: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def valid(self) -> bool:
        return not self.problems

    def fail(self, problem: str) -> None:
        self.problems.append(problem)

    def expect(self, condition: bool, problem: str) -> None:
        self.checked += 1
        if not condition:
            self.problems.append(problem)


@dataclass
class Verdict:
    properties: list[Property] = field(default_factory=list)
    lost: dict[str, int] = field(default_factory=dict)  # what went missing, by what

    @property
    def valid(self) -> bool:
        return all(p.valid for p in self.properties) and not any(self.lost.values())

    def add(self, prop: Property) -> Property:
        self.properties.append(prop)
        return prop

    def table(self) -> str:
        width = max((len(p.name) for p in self.properties), default=10)
        lines = [f"{'property':<{width}}  verdict   checked  problems", "-" * (width + 30)]
        for p in self.properties:
            status = "valid" if p.valid else "INVALID"
            lines.append(f"{p.name:<{width}}  {status:<8}  {p.checked:>7}  {len(p.problems):>8}")
            if p.note:
                lines.append(f"{'':<{width}}    {p.note}")
            for problem in p.problems[:_SHOWN_PROBLEMS]:
                lines.append(f"{'':<{width}}    ! {problem}")
            if len(p.problems) > _SHOWN_PROBLEMS:
                lines.append(f"{'':<{width}}    ! ... {len(p.problems) - _SHOWN_PROBLEMS} more")
        lost = ", ".join(f"{what}: {n}" for what, n in self.lost.items())
        lines.append(f"lost: {lost or 'nothing'}")
        lines.append(f"verdict: {'valid' if self.valid else 'INVALID'}")
        return "\n".join(lines)
