"""`python -m services.catalog [serve|migrate|downgrade REV]`."""

from runtime.service import run
from services.catalog.app import definition

run(definition)
