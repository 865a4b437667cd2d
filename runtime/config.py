"""Settings read from environment variables, validated once at start.

Every variable is documented in README.md ("Configuration"). A bad value stops the process
with a message naming the variable, instead of failing later somewhere deep.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from runtime import gc_tuning

SERVICES = ("accounts", "earn", "redeem", "catalog", "billing")

DEFAULT_GRPC_PORTS = {
    "accounts": 50051,
    "earn": 50052,
    "redeem": 50053,
    "catalog": 50054,
    "billing": 50055,
}


class Environment(StrEnum):
    DEV = "dev"
    PROD = "prod"


class TelemetryMode(StrEnum):
    OFF = "off"
    CONSOLE = "console"
    FILE = "file"
    OTLP = "otlp"


class Settings(BaseSettings):
    """Process settings; every field maps to `TAMARU_<NAME>` unless its alias says otherwise."""

    model_config = SettingsConfigDict(env_prefix="TAMARU_", extra="ignore")

    env: Environment = Environment.DEV
    database_url: str = Field(
        default="postgresql+psycopg://postgres@127.0.0.1:5432/tamaru",
        description="SQLAlchemy URL of the PostgreSQL database (each service uses its own schema).",
    )
    nats_url: str = Field(default="nats://127.0.0.1:4222", description="Comma-separated NATS URLs.")
    grpc_host: str = "0.0.0.0"
    grpc_port: int | None = Field(default=None, ge=0, le=65535)
    migrate_on_start: bool | None = None
    shutdown_grace_seconds: float = Field(default=10.0, ge=0, le=300)
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"
    telemetry: TelemetryMode | None = None
    telemetry_file: str = ".tamaru/telemetry/spans.jsonl"
    otlp_endpoint: str | None = Field(default=None, alias="OTEL_EXPORTER_OTLP_ENDPOINT")
    command_timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    config_sync_timeout_seconds: float = Field(
        default=60.0,
        ge=0,
        le=600,
        description="How long start-up waits for the program config replay before serving.",
    )
    db_pool_size: int = Field(default=10, ge=1, le=200)
    event_loop: Literal["uvloop", "asyncio"] = Field(
        default="uvloop",
        description="The service's event loop: uvloop (libuv, less CPU per request) or the "
        "standard library's (for debugging, or where uvloop is not installed).",
    )
    gc_young_threshold: int = Field(
        default=gc_tuning.DEFAULT_YOUNG_THRESHOLD,
        ge=0,
        le=1_000_000,
        description="Allocations between young-generation garbage collections; 0 keeps "
        "Python's defaults (700) and does not freeze the start-up heap (runtime/gc_tuning.py).",
    )

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgresql+psycopg://")):
            raise ValueError("must be a postgresql:// or postgresql+psycopg:// URL")
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level

    @property
    def should_migrate_on_start(self) -> bool:
        if self.migrate_on_start is not None:
            return self.migrate_on_start
        return self.env is Environment.DEV

    @property
    def telemetry_mode(self) -> TelemetryMode:
        if self.telemetry is not None:
            return self.telemetry
        return TelemetryMode.OTLP if self.otlp_endpoint else TelemetryMode.OFF

    def port_for(self, service: str) -> int:
        return self.grpc_port if self.grpc_port is not None else DEFAULT_GRPC_PORTS[service]


class ConfigError(SystemExit):
    """Raised at start when the environment is invalid; exits with a readable message."""


@lru_cache(maxsize=1)
def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        lines = ["invalid configuration:"]
        for error in exc.errors():
            name = "TAMARU_" + "_".join(str(p) for p in error["loc"]).upper()
            if name == "TAMARU_OTEL_EXPORTER_OTLP_ENDPOINT":
                name = "OTEL_EXPORTER_OTLP_ENDPOINT"
            lines.append(f"  {name}: {error['msg']}")
        raise ConfigError("\n".join(lines)) from None
