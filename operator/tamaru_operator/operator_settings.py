"""The operator's own settings, from `TAMARU_OPERATOR_*` environment variables.

The NATS URL is the shared `TAMARU_NATS_URL` (runtime.config); everything here only tunes how
the operator waits and re-checks. Documented in docs/operator.md.
"""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from runtime.config import SERVICES


class OperatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAMARU_OPERATOR_", extra="ignore")

    # Comma-separated services whose reports make a program Ready.
    services: str = ",".join(SERVICES)
    # Comma-separated namespaces to watch; empty means every namespace.
    namespaces: str = ""
    # How often the timer re-reads the services' reports (drift detection).
    recheck_seconds: float = Field(default=30.0, gt=0, le=3600)
    # How long one handler run waits for reports before it retries.
    report_wait_seconds: float = Field(default=5.0, ge=0, le=60)
    # Delay between handler retries (NATS unreachable, services not reported yet).
    retry_delay_seconds: float = Field(default=5.0, gt=0, le=600)
    # How long a create/update keeps retrying for missing reports before it hands over to the
    # timer; also how long a service may lag behind before its lag counts as drift (Degraded).
    settle_seconds: float = Field(default=120.0, ge=0, le=3600)
    # kopf's liveness endpoint (the Helm chart's livenessProbe); empty disables it.
    liveness: str = "http://0.0.0.0:8080/healthz"

    @field_validator("services")
    @classmethod
    def _known_services(cls, value: str) -> str:
        names = [s.strip() for s in value.split(",") if s.strip()]
        unknown = sorted(set(names) - set(SERVICES))
        if not names:
            raise ValueError("name at least one service")
        if unknown:
            raise ValueError(f"unknown services {unknown}; known: {', '.join(SERVICES)}")
        return ",".join(names)

    @property
    def service_names(self) -> tuple[str, ...]:
        return tuple(self.services.split(","))

    @property
    def namespace_names(self) -> tuple[str, ...]:
        return tuple(n.strip() for n in self.namespaces.split(",") if n.strip())
