"""`tamaructl validate` and `load_manifests`: files, documents, and what the user is told."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.programs.spec import SpecInvalid
from tamaructl.validate import Manifest, ManifestProblem, load_manifests, main
from tests.programs.kube_schema import EMPLOYEE_EXAMPLE, EXAMPLES_DIR, RETAIL_EXAMPLE

MINIMAL = """\
apiVersion: tamaru.dev/v1alpha1
kind: ProgramConfig
metadata:
  name: {name}
  namespace: shops
  generation: 4
spec:
  displayName: Shop
  pointName: ポイント
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_manifests_reads_every_program_of_a_multi_document_file(tmp_path: Path) -> None:
    other = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shops\n"
    text = "\n---\n".join([other, MINIMAL.format(name="shop-a"), MINIMAL.format(name="shop-b")])
    manifests = load_manifests(_write(tmp_path, "bundle.yaml", text))
    assert [(m.name, m.namespace, m.generation) for m in manifests] == [
        ("shop-a", "shops", 4),
        ("shop-b", "shops", 4),
    ]
    assert [m.spec.program_id for m in manifests] == ["shop-a", "shop-b"]
    assert manifests[0].source.endswith("bundle.yaml (document 2): ProgramConfig/shop-a")


def test_load_manifests_reads_a_directory() -> None:
    manifests = load_manifests(EXAMPLES_DIR)
    assert all(isinstance(m, Manifest) for m in manifests)
    assert {"acme-rewards", "sakura-mart"} <= {m.name for m in manifests}
    assert {m.namespace for m in manifests} == {"default"}
    assert {m.generation for m in manifests} == {1}  # what the API server gives a new object


def test_load_manifests_raises_spec_invalid_with_every_problem(tmp_path: Path) -> None:
    text = MINIMAL.format(name="shop-a") + "  yenPerPoint: 0\n  tiers: {levels: [{id: a}]}\n"
    with pytest.raises(SpecInvalid) as caught:
        load_manifests(_write(tmp_path, "bad.yaml", text))
    problems = caught.value.problems
    assert [p.field for p in problems] == [
        "spec.yenPerPoint",
        "spec.tiers.levels[0].name",
        "spec.tiers.levels[0].minPoints",
    ]
    assert all(isinstance(p, ManifestProblem) for p in problems)
    assert str(problems[0]).startswith(f"{tmp_path / 'bad.yaml'}: ProgramConfig/shop-a: spec.yen")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: [1,\n", "not valid YAML"),
        ("kind: ProgramConfig\nkind: ProgramConfig\n", "found duplicate key 'kind'"),
        ("apiVersion: v1\nkind: ConfigMap\n", "no ProgramConfig found"),
        (MINIMAL.format(name="shop").replace("tamaru.dev/v1alpha1", "tamaru.dev/v1"), "apiVersion"),
        (MINIMAL.format(name="Shop_1"), "metadata.name: must be lower-case"),
        (MINIMAL.format(name="shop.example.com"), "cannot be a program id"),
        ("apiVersion: tamaru.dev/v1alpha1\nkind: ProgramConfig\nmetadata: {name: x}\n", "spec"),
        ("- just\n- a list\n", "not a YAML mapping"),
    ],
)
def test_bad_files_are_explained(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(SpecInvalid) as caught:
        load_manifests(_write(tmp_path, "x.yaml", text))
    assert any(expected in str(problem) for problem in caught.value.problems), [
        str(p) for p in caught.value.problems
    ]


def test_missing_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(SpecInvalid) as caught:
        load_manifests(tmp_path / "nope.yaml")
    assert "cannot read" in str(caught.value.problems[0])


def test_unquoted_dates_stay_text_as_for_the_api_server(tmp_path: Path) -> None:
    text = MINIMAL.format(name="shop") + (
        "  pointKinds:\n"
        "    - {id: xmas, name: X, expiry: {mode: fixedDate, date: 2026-12-25}}\n"
        "  billing: {waiver: {contractStart: 2026-04-01}}\n"
    )
    (manifest,) = load_manifests(_write(tmp_path, "dates.yaml", text))
    assert manifest.spec.point_kinds[0].expiry.date is not None
    assert manifest.spec.point_kinds[0].expiry.date.isoformat() == "2026-12-25"


def test_main_reports_valid_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-f", str(EMPLOYEE_EXAMPLE), "-f", str(RETAIL_EXAMPLE)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{EMPLOYEE_EXAMPLE}: ProgramConfig/acme-rewards: valid (program acme-rewards)",
        f"{RETAIL_EXAMPLE}: ProgramConfig/sakura-mart: valid (program sakura-mart)",
    ]


def test_main_prints_field_paths_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = RETAIL_EXAMPLE.read_text(encoding="utf-8").replace("minPoints: 10000", "minPoints: 10")
    path = _write(tmp_path, "retail.yaml", text)
    assert main(["-f", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        f"{path}: ProgramConfig/sakura-mart: spec.tiers.levels[2].minPoints: must be greater "
        "than the previous level's minPoints (3000): list levels in ascending order"
    ]
    assert "1 problem found" in captured.err


def test_main_needs_a_file(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2
    assert "-f/--filename" in capsys.readouterr().err
