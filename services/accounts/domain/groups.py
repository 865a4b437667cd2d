"""The group tree: materialized paths, moves that would make a cycle, and depth limits.

A group's `path` lists the ids from its root down to itself, each followed by `/`:
`/<root>/<child>/<grandchild>/`. Its subtree is every group whose path starts with its own.
"""

from __future__ import annotations

from runtime.errors import InvalidArgument
from services.accounts.domain.members import check_text

MAX_DEPTH = 10
MAX_GROUP_NAME = 200
MAX_DESCRIPTION = 1000
ROOT = "/"


def path_under(parent_path: str | None, group_id: str) -> str:
    return f"{parent_path or ROOT}{group_id}/"


def depth(path: str) -> int:
    return path.strip("/").count("/") + 1 if path.strip("/") else 0


def ancestors_and_self(path: str) -> list[str]:
    """The ids on the path, root first."""
    return [part for part in path.split("/") if part]


def check_name(name: str, field: str = "name") -> str:
    return check_text(name, field, MAX_GROUP_NAME, required=True)


def check_description(text: str, field: str = "description") -> str:
    return check_text(text, field, MAX_DESCRIPTION, multiline=True)


def check_placement(new_path: str, deepest_below: int, field: str) -> None:
    """`deepest_below`: how many levels the moved group's subtree has under it (0: a leaf)."""
    if depth(new_path) + deepest_below > MAX_DEPTH:
        raise InvalidArgument(
            f"groups nest at most {MAX_DEPTH} levels deep", reason="GROUP_TOO_DEEP", field=field
        )


def check_move(group_path: str, new_parent_path: str | None, field: str) -> None:
    """A group cannot move under itself or under one of its descendants."""
    if new_parent_path is not None and new_parent_path.startswith(group_path):
        raise InvalidArgument(
            "a group cannot move under itself or one of its subgroups",
            reason="GROUP_CYCLE",
            field=field,
        )


def moved_path(old_path: str, old_prefix: str, new_prefix: str) -> str:
    """The path of a group in a moved subtree: its old prefix replaced by the new one."""
    if not old_path.startswith(old_prefix):
        raise ValueError(f"{old_path} is not in the subtree {old_prefix}")
    return new_prefix + old_path[len(old_prefix) :]
