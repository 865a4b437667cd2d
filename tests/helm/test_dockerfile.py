"""The one container image. No Docker engine runs here, so the Dockerfile is checked by its
parts: the runtime-lock step is run for real against this checkout, the protoc step must match
the Makefile's, and the image's user and paths must match what the chart expects."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helm.rendering import CHART_DIR, ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()
FIRST_PARTY = {"runtime", "services", "tamaructl", "tamaru_operator", "tamaru"}
# Top-level packages the image ships as source (gen/ is generated into it).
SHIPPED = ("runtime", "services", "tamaructl", "operator")


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _stage(name: str) -> str:
    match = re.search(rf"^FROM .* AS {name}$(.*?)(?=^FROM |\Z)", DOCKERFILE, re.M | re.S)
    assert match, f"no stage {name}"
    return match.group(1)


def _instruction_lines(text: str) -> list[str]:
    """Instructions with their `\\` continuations joined and whitespace collapsed."""
    return [" ".join(line.split()) for line in re.sub(r"\\\n", " ", text).splitlines()]


@pytest.fixture(scope="module")
def runtime_lock(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Run the Dockerfile's RUNTIME_LOCK step here, on this checkout's lock and venv (the
    build stage installs exactly that lock, so it sees the same metadata)."""
    script = re.search(r"<<'RUNTIME_LOCK'\n(.*?)^RUNTIME_LOCK$", DOCKERFILE, re.M | re.S)
    assert script, "the RUNTIME_LOCK heredoc is missing"
    workdir = tmp_path_factory.mktemp("image-build")
    for name in ("pyproject.toml", "requirements.lock"):
        shutil.copy(ROOT / name, workdir / name)
    subprocess.run(
        [sys.executable, "-c", script.group(1)], cwd=workdir, check=True, capture_output=True
    )
    entries: dict[str, str] = {}
    for block in re.split(r"\n(?=\S)", (workdir / "requirements.runtime.lock").read_text()):
        head = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==", block)
        assert head, block[:80]
        entries[_normalize(head.group(1))] = block
    return entries


def test_runtime_lock_keeps_runtime_dependencies_with_their_extras(
    runtime_lock: dict[str, str],
) -> None:
    # Direct dependencies, and what the `sqlalchemy[asyncio]` / `psycopg[binary]` extras add.
    for name in (
        "grpcio",
        "kopf",
        "nats-py",
        "sqlalchemy",
        "greenlet",
        "psycopg-binary",
        "opentelemetry-exporter-otlp-proto-grpc",
        "alembic",
        "pydantic-settings",
    ):
        assert name in runtime_lock, name


def test_runtime_lock_leaves_dev_tools_out(runtime_lock: dict[str, str]) -> None:
    for name in (
        "mypy",
        "ruff",
        "pytest",
        "helm-python-sdk",
        "kubernetes-validate",
        "grpcio-tools",
        "hypothesis",
        "kmock",
        "buf-bin",
    ):
        assert name not in runtime_lock, name


def test_runtime_lock_entries_are_the_locked_pins_with_hashes(
    runtime_lock: dict[str, str],
) -> None:
    lock = (ROOT / "requirements.lock").read_text()
    for name, block in runtime_lock.items():
        assert block.strip() in lock, name  # verbatim: same version, same hashes
        assert "--hash=sha256:" in block, name


def test_shipped_code_imports_only_runtime_dependencies(runtime_lock: dict[str, str]) -> None:
    """A module the services import at run time but only a dev extra installs would pass every
    test here and crash in the image."""
    providers = importlib.metadata.packages_distributions()
    stdlib = set(sys.stdlib_module_names)
    missing: dict[str, set[str]] = {}
    for top in SHIPPED:
        for path in (ROOT / top).rglob("*.py"):
            for module in _absolute_imports(path):
                if module in stdlib or module in FIRST_PARTY or module == "__future__":
                    continue
                dists = {_normalize(d) for d in providers.get(module, [])}
                if not dists & set(runtime_lock):
                    missing.setdefault(module, set()).add(str(path.relative_to(ROOT)))
    assert missing == {}


def _absolute_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    modules: set[str] = set()
    type_checking_only = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING")
        for child in node.body
        for n in ast.walk(child)
    }
    for node in ast.walk(tree):
        if id(node) in type_checking_only:
            continue
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.split(".")[0])
    return modules


def test_build_installs_the_lock_with_hashes_and_no_resolver() -> None:
    lines = _instruction_lines(_stage("build"))

    assert any(
        "pip install --require-hashes --no-deps -r requirements.lock" in line for line in lines
    )
    assert any("--require-hashes --no-deps -r requirements.runtime.lock" in line for line in lines)
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", DOCKERFILE, re.M)


def test_protobuf_generation_is_the_makefiles() -> None:
    makefile = (ROOT / "Makefile").read_text()
    joined = " ".join(re.sub(r"\\\n", " ", makefile).split())
    recipe = re.search(r"-m grpc_tools\.protoc (.*?) \$\(PROTOS\)", joined)
    assert recipe, "Makefile gen/.stamp recipe not found"
    step = next(line for line in _instruction_lines(_stage("build")) if "grpc_tools.protoc" in line)

    assert (
        f"python -m grpc_tools.protoc {recipe.group(1)} $(find protos -name '*.proto' | sort)"
        in step
    )


def test_runtime_image_matches_what_the_chart_expects() -> None:
    runtime = _stage("runtime")
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    uid = values["podSecurityContext"]["runAsUser"]
    gid = values["podSecurityContext"]["runAsGroup"]

    assert re.search(rf"^USER {uid}:{gid}$", runtime, re.M)  # numeric: runAsNonRoot checks it
    assert "PYTHONPATH=/app:/app/gen:/app/operator" in runtime
    assert "COPY --from=build /src/gen /app/gen" in runtime
    for top in SHIPPED:
        assert f"COPY {top}/ /app/{top}/" in runtime
    assert f"EXPOSE {values['grpc']['port']}" in runtime
    # The dev venv with its compilers and linters stays in the build stage.
    assert "/opt/build" not in runtime


def test_dockerignore_lets_in_exactly_what_the_build_copies() -> None:
    allowed = {
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    copied = {
        source.rstrip("/")
        for line in _instruction_lines(DOCKERFILE)
        if line.startswith("COPY ") and "--from=" not in line
        for source in line.split()[1:-1]
    }

    assert copied == allowed
