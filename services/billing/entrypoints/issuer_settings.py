"""The invoice issuer's details, from `TAMARU_BILLING_ISSUER_*` environment variables."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from services.billing.documents.issuer import Issuer


class IssuerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAMARU_BILLING_ISSUER_", extra="ignore")

    name: str = "Tamaru platform operator"
    address: str = ""
    registration_number: str = ""
    email: str = ""
    bank_account: str = ""


def load_issuer() -> Issuer:
    s = IssuerSettings()
    return Issuer(
        name=s.name,
        address=s.address,
        registration_number=s.registration_number,
        email=s.email,
        bank_account=s.bank_account,
    )
