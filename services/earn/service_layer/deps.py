"""What earn's handlers need besides a unit of work, built once per service."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.messaging.commands import CommandClient
from runtime.programs.registry import ProgramRegistry
from services.earn.adapters.accounts import AccountsClient
from services.earn.adapters.revisions import RevisionCache


@dataclass
class EarnDeps:
    programs: ProgramRegistry
    commands: CommandClient
    revisions: RevisionCache

    def accounts(self, program_id: str, actor: str) -> AccountsClient:
        return AccountsClient(self.commands, program_id, actor)
