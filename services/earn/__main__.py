"""`python -m services.earn [serve|migrate|downgrade REV]`."""

from runtime.service import run
from services.earn.app import definition

run(definition)
