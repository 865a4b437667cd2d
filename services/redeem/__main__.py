"""`python -m services.redeem [serve|migrate|downgrade REV]`."""

from runtime.service import run
from services.redeem.app import definition

run(definition)
