"""`python -m services.accounts [serve|migrate|downgrade REV]`."""

from runtime.service import run
from services.accounts.app import definition

run(definition)
