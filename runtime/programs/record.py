"""What the program config KV bucket holds per program, and what services report back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ApiKeyRef(BaseModel):
    """An API key as services know it: never the key itself, only its hash."""

    model_config = ConfigDict(frozen=True)

    key_id: str
    role: str
    key_hash: str = Field(pattern="^[0-9a-f]{64}$")


class ProgramRecord(BaseModel):
    """One program's config as published to the `tamaru_programs` bucket (key = program id)."""

    program_id: str
    generation: int = Field(ge=0)
    # The ProgramSpec as JSON (camelCase), already validated by the publisher.
    spec: dict[str, Any]
    api_keys: list[ApiKeyRef] = Field(default_factory=list)
    closed: bool = False
    published_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> ProgramRecord:
        return cls.model_validate_json(data)


def status_key(program_id: str, service: str) -> str:
    """Key of a service's apply report in the `tamaru_program_status` bucket."""
    return f"{program_id}.{service}"
