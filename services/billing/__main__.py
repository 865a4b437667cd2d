"""`python -m services.billing [serve|migrate|downgrade REV]`."""

from runtime.service import run
from services.billing.app import definition

run(definition)
