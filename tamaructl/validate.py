"""`tamaructl validate -f FILE`: check ProgramConfig manifests without a cluster.

The same checks the operator runs (`parse_spec`), plus the manifest's own shape. A file may hold
several YAML documents; documents of other kinds are skipped, so a whole bundle can be checked.
Every problem is printed with its file, resource and field path; the exit code is 1 if any.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from runtime.programs.crd import API_VERSION, KIND
from runtime.programs.manifest_yaml import load_documents
from runtime.programs.spec import ProgramSpec, SpecInvalid, SpecProblem, parse_spec

# metadata.name of a namespaced resource: a DNS subdomain.
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@dataclass(frozen=True)
class Manifest:
    """A valid ProgramConfig: where it lives and its parsed spec."""

    name: str
    namespace: str
    # The API server starts a new resource at generation 1; a file has none of its own.
    generation: int
    spec: ProgramSpec
    # Where it was read from ("file (document 2)"), for messages.
    source: str = ""


@dataclass(frozen=True, order=True)
class ManifestProblem(SpecProblem):
    """A SpecProblem that also says which file and resource it was found in."""

    source: str = ""

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source else ""
        return f"{where}{self.field}: {self.message}" if self.field else f"{where}{self.message}"


class ManifestInvalid(SpecInvalid):
    """Manifests with problems; `.problems` are `ManifestProblem`s."""


def load_manifests(path: str | Path) -> list[Manifest]:
    """Every ProgramConfig in a YAML file (or the *.yaml/*.yml files of a directory).

    Raises `ManifestInvalid` (a `SpecInvalid`) listing every problem when any is found.
    """
    manifests, problems = check_manifests(path)
    if problems:
        raise ManifestInvalid(problems)
    return manifests


def check_manifests(path: str | Path) -> tuple[list[Manifest], list[ManifestProblem]]:
    """The valid ProgramConfigs found under `path`, and the problems of the others."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in {".yaml", ".yml"} and p.is_file())
    else:
        files = [path]
    manifests: list[Manifest] = []
    problems: list[ManifestProblem] = []
    for file in files:
        found, file_problems = _check_file(file)
        manifests += found
        problems += file_problems
    if not manifests and not problems:
        problems.append(ManifestProblem("", f"no {KIND} found", source=str(path)))
    return manifests, problems


def manifest_from_object(obj: Any, source: str = "") -> Manifest:
    """One ProgramConfig object (parsed YAML/JSON) as a `Manifest`, or `ManifestInvalid`."""
    if not isinstance(obj, Mapping):
        raise ManifestInvalid([ManifestProblem("", "not a YAML mapping", source=source)])
    found: list[tuple[str, str]] = []
    for key, wanted in (("kind", KIND), ("apiVersion", API_VERSION)):
        if obj.get(key) != wanted:
            found.append((key, f"must be {wanted} (got {obj.get(key)!r})"))
    raw_metadata = obj.get("metadata")
    metadata: Mapping[str, Any] = raw_metadata if isinstance(raw_metadata, Mapping) else {}
    name = metadata.get("name")
    namespace = metadata.get("namespace", "default")
    generation = metadata.get("generation", 1)
    if not isinstance(name, str) or not name:
        found.append(("metadata.name", "required"))
        name = None
    elif len(name) > 253 or not _NAME.fullmatch(name):
        found.append(("metadata.name", "must be lower-case letters, digits, '-' and '.'"))
    else:
        source = f"{source}: {KIND}/{name}" if source else f"{KIND}/{name}"
    if not isinstance(namespace, str) or not _NAME.fullmatch(namespace):
        found.append(("metadata.namespace", "not a namespace name"))
    if not isinstance(generation, int) or isinstance(generation, bool) or generation < 1:
        found.append(("metadata.generation", "must be an integer >= 1"))
    spec = obj.get("spec")
    parsed: ProgramSpec | None = None
    if not isinstance(spec, Mapping):
        found.append(("spec", "required: the program's configuration"))
    else:
        try:
            parsed = parse_spec(spec, resource_name=name)
        except SpecInvalid as exc:
            found += [(p.field, p.message) for p in exc.problems]
    if found or parsed is None or name is None:
        raise ManifestInvalid([ManifestProblem(f, m, source=source) for f, m in found])
    return Manifest(name, namespace, generation, parsed, source=source)


def _check_file(file: Path) -> tuple[list[Manifest], list[ManifestProblem]]:
    try:
        documents = load_documents(file.read_text(encoding="utf-8"))
    except OSError as exc:
        return [], [ManifestProblem("", f"cannot read: {exc.strerror}", source=str(file))]
    except yaml.YAMLError as exc:
        return [], [ManifestProblem("", f"not valid YAML: {_yaml_error(exc)}", source=str(file))]
    manifests: list[Manifest] = []
    problems: list[ManifestProblem] = []
    for index, document in enumerate(documents):
        if document is None:
            continue
        kind = document.get("kind") if isinstance(document, Mapping) else None
        if isinstance(kind, str) and kind and kind != KIND:
            continue  # another kind of resource in the same bundle
        source = f"{file}" if len(documents) == 1 else f"{file} (document {index + 1})"
        try:
            manifests.append(manifest_from_object(document, source))
        except ManifestInvalid as exc:
            problems += [p for p in exc.problems if isinstance(p, ManifestProblem)]
    return manifests, problems


def _yaml_error(error: yaml.YAMLError) -> str:
    """One line: what is wrong and where (PyYAML's own text spans several with a caret)."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        return f"{error.problem} (line {mark.line + 1}, column {mark.column + 1})"
    return str(error).replace("\n", " ")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="tamaructl validate", description=f"Check {KIND} manifests without a cluster."
    )
    parser.add_argument(
        "-f",
        "--filename",
        type=Path,
        action="append",
        required=True,
        help="YAML file or directory of them (repeatable)",
    )
    args = parser.parse_args(argv)
    failed = 0
    for path in args.filename:
        manifests, problems = check_manifests(path)
        for manifest in manifests:
            print(f"{manifest.source}: valid (program {manifest.spec.program_id})")
        for problem in problems:
            print(problem)
        failed += len(problems)
    if failed:
        print(f"{failed} problem{'s' if failed != 1 else ''} found", file=sys.stderr)
        return 1
    return 0
