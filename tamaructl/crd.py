"""`tamaructl crd`: write the ProgramConfig CRD derived from the spec model into the Helm chart.

`--check` only compares (exit 1 when the committed file is stale), for CI and pre-commit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runtime.programs.crd import CRD_PATH, render_crd


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="tamaructl crd", description="Regenerate the ProgramConfig CRD from the spec model."
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=CRD_PATH,
        help="file to write, or - for standard output (default: %(default)s)",
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the file is out of date"
    )
    args = parser.parse_args(argv)
    text = render_crd()
    output: Path = args.output
    if str(output) == "-":
        sys.stdout.write(text)
        return 0
    current = output.read_text(encoding="utf-8") if output.exists() else None
    if args.check:
        if current == text:
            print(f"{output} is up to date")
            return 0
        print(f"{output} is out of date: run `python -m tamaructl crd`", file=sys.stderr)
        return 1
    if current == text:
        print(f"{output} unchanged")
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    print(f"wrote {output}")
    return 0
