"""`python -m tamaructl COMMAND ...`: the operator's and developer's command line."""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "apply": (
        "tamaructl.apply",
        "validate ProgramConfig manifests, publish them, wait for services",
    ),
    "validate": ("tamaructl.validate", "validate ProgramConfig manifests"),
    "crd": ("tamaructl.crd", "regenerate the CRD from the program spec model"),
    "migrate": ("tamaructl.migrate", "apply every service's database migrations"),
    "dev": ("tamaructl.dev", "run the whole system locally (`dev up`)"),
    "demo": ("tamaructl.demo", "run the demo client against a running local system"),
    "verify": ("tamaructl.verify", "prove the ledger's invariants for every program"),
    "trace": ("tamaructl.trace", "print the span tree of one trace from the local span file"),
}


def usage() -> str:
    lines = ["usage: python -m tamaructl COMMAND [ARGS]", "", "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, help_) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print(usage())
        return 0 if argv else 2
    name, *rest = argv
    if name not in COMMANDS:
        print(f"unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    result: int = module.main(rest)
    return result


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
