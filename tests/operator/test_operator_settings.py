"""The operator's settings (TAMARU_OPERATOR_*) and the `kopf run` command it builds."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tamaru_operator.__main__ import kopf_arguments
from tamaru_operator.operator_settings import OperatorSettings


def test_defaults_watch_every_namespace_and_expect_all_five_services(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("SERVICES", "NAMESPACES", "LIVENESS"):
        monkeypatch.delenv(f"TAMARU_OPERATOR_{name}", raising=False)
    settings = OperatorSettings()
    assert settings.service_names == ("accounts", "earn", "redeem", "catalog", "billing")
    assert settings.recheck_seconds == 30
    assert kopf_arguments(settings) == [
        "run",
        "--standalone",
        "--log-format=json",
        "-m",
        "tamaru_operator.handlers",
        "--all-namespaces",
        "--liveness",
        "http://0.0.0.0:8080/healthz",
    ]


def test_namespaces_and_services_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAMARU_OPERATOR_NAMESPACES", "shop-a, shop-b")
    monkeypatch.setenv("TAMARU_OPERATOR_SERVICES", "accounts,earn")
    monkeypatch.setenv("TAMARU_OPERATOR_LIVENESS", "")
    settings = OperatorSettings()
    assert settings.service_names == ("accounts", "earn")
    args = kopf_arguments(settings)
    assert args[-4:] == ["--namespace", "shop-a", "--namespace", "shop-b"]
    assert "--all-namespaces" not in args
    assert "--liveness" not in args


def test_an_unknown_service_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAMARU_OPERATOR_SERVICES", "accounts,loyalty")
    with pytest.raises(ValidationError, match="unknown services \\['loyalty'\\]"):
        OperatorSettings()
