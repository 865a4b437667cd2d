"""How hard the hostile tests try: bounded and reproducible in CI, open-ended when asked.

`HYPOTHESIS_PROFILE=long` (or `TAMARU_FUZZ_EXAMPLES=N`) runs many more random examples per RPC,
with shrinking and hypothesis's example database, e.g.
`HYPOTHESIS_PROFILE=long .venv/bin/pytest tests/hostile --timeout 0`.
The default (`ci`) runs a fixed, derandomized set of examples, so a red build is red on every
rerun and the whole suite stays within about two minutes on a small machine.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
LONG = PROFILE in {"long", "dev", "nightly"}

EXAMPLES = int(os.environ.get("TAMARU_FUZZ_EXAMPLES", "0")) or (300 if LONG else 8)


def _settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        # Each example is a real RPC against real PostgreSQL: no per-example time limit fits.
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=not LONG,
        database=settings().database if LONG else None,
        # In CI a failing example is reported as found: shrinking would re-run stateful calls
        # for minutes. The long profile shrinks.
        phases=list(Phase) if LONG else [Phase.explicit, Phase.generate],
        print_blob=LONG,
    )


# Ordinary hostile requests per RPC.
FUZZ = _settings(EXAMPLES)
# Requests per RPC and edge (one kind of edge value forced into every field it fits).
EDGE = _settings(max(2, EXAMPLES // 4))
# Requests per RPC aimed at another program's data in the tenant matrix.
TENANT = _settings(max(3, EXAMPLES // 2))
