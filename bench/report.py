"""A run's outputs: `<stamp>.json` (everything), `<stamp>.md` (the summary tables), and
`<stamp>.png` (throughput and latency per operation, service beside raw PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console as RichConsole
from rich.table import Table

from bench.results import Figure, RunResult


def _num(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _checks(figure: Figure) -> str:
    if not figure.checks:
        return "–"
    return "; ".join(
        f"{'met' if c.met else 'MISSED'}: {c.target} ({c.measured})" for c in figure.checks
    )


def _errors(figure: Figure) -> str:
    errors = figure.service.errors + (figure.baseline.errors if figure.baseline else 0)
    return f" ({errors} errors)" if errors else ""


def summary_rows(result: RunResult) -> list[list[str]]:
    rows = []
    for f in result.figures:
        b = f.baseline
        rows.append(
            [
                f.title + _errors(f),
                f"{_num(f.service.throughput)} {f.unit}",
                _num(f.service.p50_ms, 1) if f.has_latency else "–",
                _num(f.service.p99_ms, 1) if f.has_latency else "–",
                f"{_num(b.throughput)} {f.unit}" if b else "–",
                _num(b.p50_ms, 1) if b and f.has_latency else "–",
                _num(b.p99_ms, 1) if b and f.has_latency else "–",
                f"{f.ratio:.2f}x" if f.ratio is not None else "–",
                _checks(f),
            ]
        )
    return rows


HEADERS = [
    "operation", "service", "p50 ms", "p99 ms", "raw PostgreSQL", "raw p50", "raw p99",
    "ratio", "targets",
]  # fmt: skip
CPU_HEADERS = [
    "operation (service phase)", "service cores", "generator cores", "PostgreSQL cores",
    "other services + NATS cores", "other cores", "service CPU ms/entry",
    "PostgreSQL CPU ms/entry",
]  # fmt: skip


def cpu_rows(result: RunResult) -> list[list[str]]:
    rows = []
    for f in result.figures:
        c = f.service.cpu
        if c is None:
            continue
        per = f.service.cpu_ms_per_entry
        rows.append(
            [
                f.title,
                f"{c.service:.2f}",
                f"{c.generator:.2f}",
                f"{c.postgres:.2f}",
                f"{c.stack:.2f}",
                f"{c.other:.2f}",
                f"{per.get('service', 0):.3f}",
                f"{per.get('postgres', 0):.3f}",
            ]
        )
    return rows


def _markdown_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows]
    return lines


def markdown(result: RunResult) -> str:
    lines = [
        f"# Benchmark run {result.started_at} ({result.sizes})",
        "",
        f"Machine: {result.machine.get('summary', '')}",
        f"Stack: {result.stack.get('summary', '')}",
        "",
        *_markdown_table(HEADERS, summary_rows(result)),
        "",
        "CPU during each service phase (cores used on average; 2 cores in all):",
        "",
        *_markdown_table(CPU_HEADERS, cpu_rows(result)),
    ]
    for profile in result.profiles:
        lines += ["", f"## Profile: {profile.operation} ({profile.samples} samples)", ""]
        lines += [
            "Self time by layer: " + ", ".join(f"{k} {v}%" for k, v in profile.by_layer.items())
        ]
        lines += ["", "Our functions, inclusive time:", ""]
        lines += [f"- {pct}% `{name}`" for name, pct in profile.top_inclusive]
    notes = [*result.notes, *(f"{f.title}: {n}" for f in result.figures for n in f.notes)]
    if notes or result.failures:
        lines += ["", "## Notes", ""]
        lines += [f"- {n}" for n in notes]
        lines += [f"- FAILED: {failure}" for failure in result.failures]
    return "\n".join(lines) + "\n"


def print_summary(result: RunResult, console: RichConsole) -> None:
    table = Table(title=f"Benchmarks ({result.sizes})", show_lines=False)
    for header in HEADERS:
        table.add_column(header, overflow="fold")
    for row in summary_rows(result):
        table.add_row(*row)
    console.print(table)
    cpu = Table(title="CPU during each service phase (cores)")
    for header in CPU_HEADERS:
        cpu.add_column(header, overflow="fold")
    for row in cpu_rows(result):
        cpu.add_row(*row)
    console.print(cpu)
    for failure in result.failures:
        console.print(f"[red]FAILED: {failure}[/red]")


def plot(result: RunResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    figures = result.figures
    names = [f.title for f in figures]
    ys = list(range(len(figures)))
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 1.2 + 0.7 * len(figures)))
    height = 0.38
    service = [f.service.throughput for f in figures]
    raw = [f.baseline.throughput if f.baseline else 0.0 for f in figures]
    left.barh([y - height / 2 for y in ys], service, height, label="service", color="#1f6f8b")
    left.barh([y + height / 2 for y in ys], raw, height, label="raw PostgreSQL", color="#c9c9c9")
    for y, f in zip(ys, figures, strict=True):
        ratio = f" ({f.ratio:.2f}x)" if f.ratio is not None else ""
        left.text(f.service.throughput, y - height / 2, f" {f.service.throughput:,.0f}{ratio}",
                  va="center", fontsize=8)  # fmt: skip
    left.set_xscale("log")
    left.set_xlim(right=max([*service, *raw, 1.0]) * 4)  # room for the labels
    left.set_yticks(ys, [f"{n}\n[{f.unit}]" for n, f in zip(names, figures, strict=True)],
                    fontsize=8)  # fmt: skip
    left.invert_yaxis()
    left.set_title("Throughput (log scale)")
    left.legend(loc="best", fontsize=8)

    timed = [f for f in figures if f.has_latency]
    ty = list(range(len(timed)))
    width = 0.2
    series = [
        ("service p50", [f.service.p50_ms or 0 for f in timed], "#7fb3c8"),
        ("service p99", [f.service.p99_ms or 0 for f in timed], "#1f6f8b"),
        ("raw p50", [(f.baseline.p50_ms or 0) if f.baseline else 0 for f in timed], "#e0e0e0"),
        ("raw p99", [(f.baseline.p99_ms or 0) if f.baseline else 0 for f in timed], "#a0a0a0"),
    ]
    for k, (label, values, color) in enumerate(series):
        right.barh([y + (k - 1.5) * width for y in ty], values, width, label=label, color=color)
    right.set_xscale("log")
    right.set_yticks(ty, [f.title for f in timed], fontsize=8)
    right.invert_yaxis()
    right.set_xlabel("ms per call")
    right.set_title("Latency per call (log scale)")
    right.legend(loc="best", fontsize=8)
    machine = result.machine.get("summary", "")
    fig.suptitle(
        f"Tamaru benchmarks, {result.started_at} ({result.sizes}) — {machine}", fontsize=10
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(result: RunResult, out_dir: Path, stamp: str) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out_dir / f"{stamp}.json",
        "summary": out_dir / f"{stamp}.md",
        "plot": out_dir / f"{stamp}.png",
    }
    paths["json"].write_text(json.dumps(result.to_json(), indent=2) + "\n")
    paths["summary"].write_text(markdown(result))
    if result.figures:
        plot(result, paths["plot"])
    else:
        del paths["plot"]
    return paths
