"""The program a gRPC caller acts on, and the catalog it sees."""

from __future__ import annotations

from runtime.auth import Principal, Role
from runtime.errors import PermissionDenied
from runtime.programs.registry import ProgramRegistry
from services.catalog.adapters.items_repository import CatalogView
from services.catalog.domain.items import SHARED_PROGRAM
from services.catalog.service_layer.programs import catalog_view


def owner_of(principal: Principal) -> str:
    """Where the caller's item changes go: the platform role edits the shared catalog."""
    return SHARED_PROGRAM if principal.role is Role.PLATFORM else principal.program_id


def view_of(principal: Principal, programs: ProgramRegistry) -> CatalogView:
    if principal.role is Role.PLATFORM:
        return catalog_view(SHARED_PROGRAM, None)
    return catalog_view(principal.program_id, programs.spec(principal.program_id))


def manages(principal: Principal) -> bool:
    return principal.role in (Role.ADMIN, Role.PLATFORM)


def require_manager(principal: Principal, field: str) -> None:
    if not manages(principal):
        raise PermissionDenied(
            f"only admin keys may set {field}", reason="ROLE_NOT_ALLOWED", field=field
        )
