"""Local API keys for `tamaructl apply`: one JSON file per program under `.tamaru/keys/`,
readable only by its owner. (The operator keeps them in a Kubernetes Secret instead.)"""

from __future__ import annotations

import json
import os
from pathlib import Path

DEFAULT_DIR = Path(".tamaru/keys")


class FileKeyStore:
    def __init__(self, directory: Path = DEFAULT_DIR) -> None:
        self.directory = directory

    def path(self, program_id: str) -> Path:
        return self.directory / f"{program_id}.json"

    async def load(self, program_id: str) -> dict[str, str]:
        path = self.path(program_id)
        if not path.exists():
            return {}
        data: dict[str, str] = json.loads(path.read_text())
        return data

    async def save(self, program_id: str, keys: dict[str, str]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path(program_id)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(keys, handle, indent=2, sort_keys=True)
