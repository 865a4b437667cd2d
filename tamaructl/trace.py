"""`tamaructl trace TRACE_ID`: print the span tree of one request from the local span file
(`TAMARU_TELEMETRY=file`, which `make run` sets), so a developer can follow a request across
services without a tracing backend."""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path
from typing import Any

from runtime.config import load_settings
from runtime.telemetry.file_exporter import read_spans

SHOWN_ATTRIBUTES = (
    "tamaru.program_id",
    "tamaru.idempotency_key",
    "rpc.grpc.status_code",
    "messaging.destination.name",
    "db.statement",
)


def render_tree(spans: list[dict[str, Any]]) -> list[str]:
    """One line per span, children indented under parents, each level ordered by start."""
    ids = {s["span_id"] for s in spans}
    children: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for span in spans:
        parent = span.get("parent_span_id")
        children[parent if parent in ids else None].append(span)
    origin = min((s["start_ns"] for s in spans), default=0)
    lines: list[str] = []

    def walk(parent: str | None, depth: int) -> None:
        for span in sorted(children.get(parent, []), key=lambda s: s["start_ns"]):
            took = (span["end_ns"] - span["start_ns"]) / 1e6
            offset = (span["start_ns"] - origin) / 1e6
            status = span.get("status", {}).get("code", "UNSET")
            mark = " ERROR" if status == "ERROR" else ""
            attrs = span.get("attributes", {})
            shown = " ".join(
                f"{k.split('.')[-1]}={str(attrs[k])[:60]}" for k in SHOWN_ATTRIBUTES if k in attrs
            )
            lines.append(
                f"{'  ' * depth}{span['name']} [{span.get('service', '?')}] "
                f"+{offset:.1f}ms {took:.1f}ms{mark}  {shown}".rstrip()
            )
            walk(span["span_id"], depth + 1)

    walk(None, 0)
    return lines


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tamaructl trace")
    parser.add_argument("trace_id", help="32 hex digits, as printed in errors and logs")
    parser.add_argument("--file", type=Path, default=None, help="span file (JSON lines)")
    args = parser.parse_args(argv)
    path = args.file or Path(load_settings().telemetry_file)
    if not path.exists():
        print(f"no span file at {path}: run with TAMARU_TELEMETRY=file (make run does)")
        return 1
    spans = list(read_spans(path, args.trace_id))
    if not spans:
        print(f"no spans of trace {args.trace_id} in {path}")
        return 1
    print("\n".join(render_tree(spans)))
    return 0
