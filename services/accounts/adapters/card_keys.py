"""The service's membership-card signing key, from `TAMARU_CARD_SIGNING_KEY`.

Each program signs with a key derived from it (`domain.card_tokens.program_card_key`), so the
service key itself never leaves the accounts service. In development a fixed key is used when
the variable is unset; in production (`TAMARU_ENV=prod`) the service refuses to start without
one, since anybody could forge card tokens signed with a key that is published here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from runtime.config import ConfigError, Environment

ENV_VAR = "TAMARU_CARD_SIGNING_KEY"
MIN_LENGTH = 32
DEV_KEY = b"tamaru-development-card-signing-key-not-secret"


def service_card_key(env: Environment, environ: Mapping[str, str] = os.environ) -> bytes:
    raw = environ.get(ENV_VAR, "")
    if not raw:
        if env is Environment.PROD:
            raise ConfigError(
                f"invalid configuration:\n  {ENV_VAR}: required when TAMARU_ENV=prod "
                f"(at least {MIN_LENGTH} random characters, e.g. `openssl rand -hex 32`)"
            )
        return DEV_KEY
    if len(raw) < MIN_LENGTH:
        raise ConfigError(
            f"invalid configuration:\n  {ENV_VAR}: must be at least {MIN_LENGTH} characters"
        )
    return raw.encode()
