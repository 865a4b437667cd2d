"""The Helm chart: lints, renders valid Kubernetes 1.32 objects with the default and the
production values, and says what the issue asks (probes, non-root, Secrets, hooks, least
privilege, optional HPAs and NetworkPolicies)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import kubernetes_validate
import pytest
import yaml
from helm_python import Chart, HelmError, HelmValuesError, lint

from runtime.grpcserver.server import LIVENESS_NAME
from tests.helm.rendering import (
    CHART_DIR,
    NAMESPACE,
    SERVICES,
    Manifest,
    container,
    deep_merge,
    env_of,
    loaded_chart,
    named,
    of_kind,
    production_values,
    render,
    service_deployments,
)

KUBERNETES_VERSION = "1.32.0"
CRD_FILE = CHART_DIR / "crds" / "programconfigs.tamaru.dev.yaml"


@pytest.fixture(scope="module")
def chart() -> Iterator[Chart]:
    with loaded_chart() as loaded:
        yield loaded


# Every switch on at once, so every template is rendered and validated somewhere.
EVERYTHING_ON: dict[str, Any] = {
    "networkPolicy": {"enabled": True},
    "otel": {"endpoint": "http://collector:4317", "environment": "staging"},
    "topologySpread": {"enabled": True},
    "serviceDefaults": {
        "hpa": {"enabled": True, "targetMemoryUtilizationPercentage": 80},
        "pdb": {"minAvailable": "50%", "maxUnavailable": None},
        "nodeSelector": {"pool": "tamaru"},
    },
    "operator": {"watchNamespace": "programs", "tolerations": [{"operator": "Exists"}]},
    "imagePullSecrets": [{"name": "registry"}],
    "image": {"digest": "sha256:" + "ab" * 32},
    "nats": {"existingSecret": "nats-creds", "existingSecretKey": "url"},
}

VALUE_SETS = {
    "default": {},
    "production": production_values(),
    "everything-on": EVERYTHING_ON,
}


# ---- lint, render, validate -------------------------------------------------------------


@pytest.mark.parametrize("values_name", sorted(VALUE_SETS))
def test_chart_lints_without_warnings(values_name: str) -> None:
    report = lint(
        CHART_DIR, VALUE_SETS[values_name], strict=True, kube_version=f"v{KUBERNETES_VERSION}"
    )

    assert report["errors"] == []
    # Severity 1 is informational ("icon is recommended"); 2 and 3 are warnings and errors.
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("values_name", sorted(VALUE_SETS))
def test_every_rendered_object_is_valid_kubernetes(chart: Chart, values_name: str) -> None:
    objects = render(chart, VALUE_SETS[values_name])

    assert len(objects) >= 15  # 5 Deployments + 5 Services + PDBs + operator + Job ...
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{obj['kind']} {obj['metadata']['name']}: {exc.message}")


def test_names_fit_in_a_dns_label_even_for_a_long_release_name(chart: Chart) -> None:
    objects = render(chart, EVERYTHING_ON, name="a-very-long-release-name-for-the-loyalty-stack")

    dns_label = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    for obj in objects:
        assert dns_label.match(obj["metadata"]["name"]), obj["metadata"]["name"]


CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding"}


def test_namespaced_objects_name_the_release_namespace(chart: Chart) -> None:
    """So `helm template | kubectl apply` and GitOps tools put them where Helm would."""
    objects = render(chart, EVERYTHING_ON)

    for obj in objects:
        where = obj["metadata"].get("namespace")
        if obj["kind"] in CLUSTER_SCOPED:
            assert where is None, obj["metadata"]["name"]
        elif obj["kind"] in {"Role", "RoleBinding"}:
            assert where == "programs"  # operator.watchNamespace
        else:
            assert where == NAMESPACE, f"{obj['kind']} {obj['metadata']['name']}"


def test_the_crd_is_a_valid_apiextensions_v1_crd_for_programconfigs(chart: Chart) -> None:
    # What Helm installs from crds/ (the file as is, never templated).
    crds = chart.crds
    assert [c["filename"] for c in crds] == ["tamaru/crds/programconfigs.tamaru.dev.yaml"]
    crd = yaml.safe_load(crds[0]["data"])

    kubernetes_validate.validate(crd, KUBERNETES_VERSION, strict=True)
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["kind"] == "CustomResourceDefinition"
    assert crd["spec"]["group"] == "tamaru.dev"
    assert crd["spec"]["names"]["plural"] == "programconfigs"
    # The operator's RBAC grants programconfigs/status: the subresource must exist.
    served = [v for v in crd["spec"]["versions"] if v["served"]]
    assert served
    assert all("status" in v.get("subresources", {}) for v in served)
    assert sum(1 for v in crd["spec"]["versions"] if v["storage"]) == 1


# ---- values.schema.json -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad_values", "path"),
    [
        ({"services": {"accounts": {"replicas": "three"}}}, "/services/accounts/replicas"),
        ({"serviceDefaults": {"hpa": {"enabled": "yes"}}}, "/serviceDefaults/hpa/enabled"),
        ({"serviceDefaults": {"replicas": -1}}, "/serviceDefaults/replicas"),
        ({"services": {"loyalty": {"enabled": True}}}, "/services"),
        ({"postgres": {"url": "mysql://db/tamaru"}}, "/postgres/url"),
        ({"nats": {"url": "http://nats:4222"}}, "/nats/url"),
        ({"otel": {"endpoint": "collector:4317"}}, "/otel/endpoint"),
        ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
        ({"grpc": {"port": 70000}}, "/grpc/port"),
        ({"operator": {"watchNamespace": "Not_A_Namespace"}}, "/operator/watchNamespace"),
        ({"networkPolicy": {"enabeld": True}}, "/networkPolicy"),
        ({"replicaCount": 3}, "replicaCount"),
    ],
)
def test_schema_rejects_bad_values_naming_the_key(
    chart: Chart, bad_values: dict[str, Any], path: str
) -> None:
    with pytest.raises(HelmValuesError) as raised:
        chart.validate_schema(bad_values)
    assert path in str(raised.value)

    # `helm install` validates the same way before rendering anything.
    with pytest.raises(HelmValuesError):
        chart.render(bad_values, name="tamaru", namespace=NAMESPACE)


@pytest.mark.parametrize("values_name", sorted(VALUE_SETS))
def test_schema_accepts_the_shipped_value_sets(chart: Chart, values_name: str) -> None:
    chart.validate_schema(chart.merge_values(VALUE_SETS[values_name]))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"postgres": {"url": "", "existingSecret": ""}},
            "postgres.url or postgres.existingSecret",
        ),
        ({"nats": {"url": "", "existingSecret": ""}}, "nats.url or nats.existingSecret"),
        (
            {
                "serviceDefaults": {
                    "replicas": 2,
                    "pdb": {"minAvailable": 2, "maxUnavailable": None},
                }
            },
            "minAvailable (2) must be below the replica count (2)",
        ),
        (
            {"serviceDefaults": {"pdb": {"minAvailable": 1, "maxUnavailable": 1}}},
            "exactly one of minAvailable and maxUnavailable",
        ),
        (
            {"serviceDefaults": {"hpa": {"enabled": True, "minReplicas": 5, "maxReplicas": 3}}},
            "minReplicas (5) is above maxReplicas (3)",
        ),
    ],
)
def test_inconsistent_values_fail_with_a_message(
    chart: Chart, values: dict[str, Any], message: str
) -> None:
    with pytest.raises(HelmError) as raised:
        render(chart, values)
    assert message in str(raised.value)


# ---- the services -----------------------------------------------------------------------


@pytest.mark.parametrize("values_name", ["default", "production"])
def test_each_service_is_a_deployment_with_a_grpc_service(chart: Chart, values_name: str) -> None:
    objects = render(chart, VALUE_SETS[values_name])
    deployments = service_deployments(objects)

    assert sorted(deployments) == sorted(SERVICES)
    for name, deployment in deployments.items():
        main = container(deployment)
        assert main["command"] == ["python", "-m", f"services.{name}"]
        port = main["ports"][0]["containerPort"]
        assert env_of(deployment)["TAMARU_GRPC_PORT"]["value"] == str(port)
        service = named(objects, "Service", deployment["metadata"]["name"])
        assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
        assert service["spec"]["ports"][0]["targetPort"] == "grpc"


@pytest.mark.parametrize("values_name", ["default", "production"])
def test_service_pods_probe_the_grpc_health_service(chart: Chart, values_name: str) -> None:
    for deployment in service_deployments(render(chart, VALUE_SETS[values_name])).values():
        main = container(deployment)
        port = main["ports"][0]["containerPort"]
        # Liveness asks for the process only: a NATS outage must not restart every pod.
        wanted = {
            "startupProbe": {"port": port},
            "readinessProbe": {"port": port},
            "livenessProbe": {"port": port, "service": LIVENESS_NAME},
        }
        for probe, grpc_action in wanted.items():
            assert main[probe]["grpc"] == grpc_action, probe
            assert "httpGet" not in main[probe]
            assert "exec" not in main[probe]


@pytest.mark.parametrize("values_name", ["default", "production"])
def test_every_pod_runs_as_non_root_on_a_read_only_filesystem(
    chart: Chart, values_name: str
) -> None:
    objects = render(chart, VALUE_SETS[values_name])
    workloads = of_kind(objects, "Deployment") + of_kind(objects, "Job")
    assert len(workloads) == 7  # five services, the operator, the migrations Job

    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        main = container(workload)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert main["securityContext"]["readOnlyRootFilesystem"] is True
        assert main["securityContext"]["allowPrivilegeEscalation"] is False
        assert main["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert {"name": "tmp", "mountPath": "/tmp"} in main["volumeMounts"]
        assert pod["enableServiceLinks"] is False


@pytest.mark.parametrize("values_name", ["default", "production"])
def test_services_read_their_urls_from_secrets_and_never_migrate(
    chart: Chart, values_name: str
) -> None:
    objects = render(chart, VALUE_SETS[values_name])
    secrets = {s["metadata"]["name"]: s for s in of_kind(objects, "Secret")}

    for deployment in service_deployments(objects).values():
        env = env_of(deployment)
        assert env["TAMARU_ENV"]["value"] == "prod"
        for variable in ("TAMARU_DATABASE_URL", "TAMARU_NATS_URL"):
            assert "value" not in env[variable], f"{variable} must not be inline"
            ref = env[variable]["valueFrom"]["secretKeyRef"]
            if ref["name"] in secrets:  # chart-made; otherwise an existingSecret
                assert ref["key"] in secrets[ref["name"]]["stringData"]
        assert deployment["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_chart_made_secret_holds_the_urls_from_values(chart: Chart) -> None:
    objects = render(
        chart,
        {
            "postgres": {"url": "postgresql://tamaru:pw@db:5432/tamaru"},
            "nats": {"url": "nats://a:4222,nats://b:4222"},
        },
    )
    deployment = service_deployments(objects)["earn"]
    ref = env_of(deployment)["TAMARU_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    secret = named(objects, "Secret", ref["name"])

    assert secret["stringData"] == {
        "TAMARU_DATABASE_URL": "postgresql://tamaru:pw@db:5432/tamaru",
        "TAMARU_NATS_URL": "nats://a:4222,nats://b:4222",
    }


def test_existing_secrets_replace_the_chart_made_one(chart: Chart) -> None:
    objects = render(
        chart,
        {
            "postgres": {"existingSecret": "pg-app", "existingSecretKey": "uri"},
            "nats": {"existingSecret": "nats-creds"},
        },
    )

    env = env_of(service_deployments(objects)["accounts"])
    assert env["TAMARU_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "pg-app",
        "key": "uri",
    }
    assert env["TAMARU_NATS_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "nats-creds",
        "key": "TAMARU_NATS_URL",
    }
    assert of_kind(objects, "Secret") == []  # not even the migrations hook's copy


def test_otel_endpoint_reaches_every_workload_only_when_set(chart: Chart) -> None:
    unset = render(chart, {})
    endpoint = "http://otel-collector.observability:4317"
    configured = render(chart, {"otel": {"endpoint": endpoint}})

    for workload in of_kind(unset, "Deployment"):
        assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in env_of(workload)
    for workload in of_kind(configured, "Deployment") + of_kind(configured, "Job"):
        assert env_of(workload)["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == endpoint


def test_production_values_make_the_services_highly_available(chart: Chart) -> None:
    objects = render(chart, VALUE_SETS["production"])
    deployments = service_deployments(objects)
    hpas = {
        hpa["spec"]["scaleTargetRef"]["name"]: hpa
        for hpa in of_kind(objects, "HorizontalPodAutoscaler")
    }
    pdbs = {pdb["metadata"]["name"]: pdb for pdb in of_kind(objects, "PodDisruptionBudget")}

    for deployment in deployments.values():
        name = deployment["metadata"]["name"]
        # The HPA owns the replica count; a fixed one would fight it on every upgrade.
        assert "replicas" not in deployment["spec"]
        assert hpas[name]["spec"]["minReplicas"] == 3
        assert pdbs[name]["spec"] == {
            "minAvailable": 2,
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
            "selector": deployment["spec"]["selector"],
        }
        spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
        assert {c["topologyKey"] for c in spread} == {
            "kubernetes.io/hostname",
            "topology.kubernetes.io/zone",
        }
    assert hpas[deployments["accounts"]["metadata"]["name"]]["spec"]["maxReplicas"] == 20
    assert env_of(deployments["billing"])["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"]
    db_ref = env_of(deployments["billing"])["TAMARU_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    assert db_ref == {"name": "tamaru-postgres-app", "key": "uri"}


def test_hpas_appear_only_when_enabled_and_per_service_false_wins(chart: Chart) -> None:
    assert of_kind(render(chart, {}), "HorizontalPodAutoscaler") == []

    values = deep_merge(production_values(), {"services": {"billing": {"hpa": {"enabled": False}}}})
    objects = render(chart, values)
    hpa_targets = {
        h["spec"]["scaleTargetRef"]["name"] for h in of_kind(objects, "HorizontalPodAutoscaler")
    }
    billing = service_deployments(objects)["billing"]

    assert len(hpa_targets) == 4
    assert billing["metadata"]["name"] not in hpa_targets
    assert billing["spec"]["replicas"] == 3


def test_a_disabled_service_renders_nothing(chart: Chart) -> None:
    objects = render(chart, {"services": {"catalog": {"enabled": False}}})

    assert sorted(service_deployments(objects)) == sorted(set(SERVICES) - {"catalog"})
    assert all(o["metadata"]["labels"]["app.kubernetes.io/component"] != "catalog" for o in objects)
    operator = named(objects, "Deployment", "tamaru-operator")
    assert env_of(operator)["TAMARU_OPERATOR_SERVICES"]["value"] == "accounts,billing,earn,redeem"


# ---- migrations -------------------------------------------------------------------------


def _hook_weight(obj: Manifest) -> int:
    return int(obj["metadata"]["annotations"]["helm.sh/hook-weight"])


def test_migrations_job_is_a_pre_install_pre_upgrade_hook(chart: Chart) -> None:
    objects = render(chart, {})
    job = named(objects, "Job", "tamaru-migrations")

    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert container(job)["command"] == ["python", "-m", "tamaructl", "migrate"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    # The hook runs before the release's objects exist: its Secret must be a hook too,
    # created first.
    ref = env_of(job)["TAMARU_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    secret = named(objects, "Secret", ref["name"])
    assert secret["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert _hook_weight(secret) < _hook_weight(job)
    assert ref["key"] in secret["stringData"]


def test_migrations_job_reads_an_existing_secret_directly(chart: Chart) -> None:
    objects = render(chart, VALUE_SETS["production"])
    job = named(objects, "Job", "tamaru-migrations")

    ref = env_of(job)["TAMARU_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "tamaru-postgres-app", "key": "uri"}
    assert [s for s in of_kind(objects, "Secret") if "annotations" in s["metadata"]] == []


def test_migrations_can_be_turned_off(chart: Chart) -> None:
    objects = render(chart, {"migrations": {"enabled": False}})

    assert of_kind(objects, "Job") == []
    assert all("helm.sh/hook" not in o["metadata"].get("annotations", {}) for o in objects)


# ---- the operator and its RBAC ----------------------------------------------------------


def _rules(objects: list[Manifest], kind: str) -> list[dict[str, Any]]:
    return [rule for role in of_kind(objects, kind) for rule in role["rules"]]


def _grants(rules: list[dict[str, Any]]) -> dict[tuple[str, str], set[str]]:
    grants: dict[tuple[str, str], set[str]] = {}
    for rule in rules:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                grants.setdefault((group, resource), set()).update(rule["verbs"])
    return grants


NAMESPACED_GRANTS = {
    ("tamaru.dev", "programconfigs"): {"get", "list", "watch", "patch"},
    ("tamaru.dev", "programconfigs/status"): {"get", "patch", "update"},
    ("", "secrets"): {"get", "create", "patch"},
    ("", "events"): {"create", "patch"},
}
CRD_GRANT = {("apiextensions.k8s.io", "customresourcedefinitions"): {"get", "list", "watch"}}


def test_operator_clusterrole_grants_exactly_what_kopf_and_the_handlers_need(
    chart: Chart,
) -> None:
    objects = render(chart, {})
    rules = _rules(objects, "ClusterRole")

    for rule in rules:
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field], rule
        assert not rule.get("resourceNames")
    # No namespaces: with --all-namespaces kopf never lists them.
    assert _grants(rules) == {**NAMESPACED_GRANTS, **CRD_GRANT}
    assert of_kind(objects, "Role") == []
    binding = named(objects, "ClusterRoleBinding", "tamaru-operator")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "tamaru-operator", "namespace": NAMESPACE}
    ]


def test_rbac_group_and_resource_match_the_crd() -> None:
    crd = yaml.safe_load(CRD_FILE.read_text())
    crd_grants = {k for k in NAMESPACED_GRANTS if k[0] == "tamaru.dev"}

    assert crd_grants == {
        (crd["spec"]["group"], crd["spec"]["names"]["plural"]),
        (crd["spec"]["group"], crd["spec"]["names"]["plural"] + "/status"),
    }


def test_watch_namespace_narrows_the_operator_to_a_role(chart: Chart) -> None:
    objects = render(chart, {"operator": {"watchNamespace": "programs"}})

    assert _grants(_rules(objects, "ClusterRole")) == CRD_GRANT
    role = named(objects, "Role", "tamaru-operator")
    assert role["metadata"]["namespace"] == "programs"
    assert _grants(role["rules"]) == NAMESPACED_GRANTS
    binding = named(objects, "RoleBinding", "tamaru-operator")
    assert binding["metadata"]["namespace"] == "programs"
    assert binding["subjects"][0]["namespace"] == NAMESPACE
    operator = named(objects, "Deployment", "tamaru-operator")
    assert env_of(operator)["TAMARU_OPERATOR_NAMESPACES"]["value"] == "programs"


def test_operator_runs_once_with_kopf_liveness_and_no_database(chart: Chart) -> None:
    objects = render(chart, {})
    operator = named(objects, "Deployment", "tamaru-operator")
    main = container(operator)
    env = env_of(operator)

    assert operator["spec"]["replicas"] == 1
    assert operator["spec"]["strategy"]["type"] == "Recreate"
    assert main["command"] == ["python", "-m", "tamaru_operator"]
    assert operator["spec"]["template"]["spec"]["serviceAccountName"] == "tamaru-operator"
    health_port = main["ports"][0]["containerPort"]
    assert env["TAMARU_OPERATOR_LIVENESS"]["value"] == f"http://0.0.0.0:{health_port}/healthz"
    assert main["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert env["TAMARU_OPERATOR_NAMESPACES"]["value"] == ""
    assert env["TAMARU_OPERATOR_SERVICES"]["value"] == ",".join(sorted(SERVICES))
    assert "secretKeyRef" in env["TAMARU_NATS_URL"]["valueFrom"]
    assert "TAMARU_DATABASE_URL" not in env


def test_operator_can_be_turned_off(chart: Chart) -> None:
    objects = render(chart, {"operator": {"enabled": False}})

    assert [o for o in objects if o["kind"] in {"ClusterRole", "ClusterRoleBinding", "Role"}] == []
    assert sorted(d["metadata"]["name"] for d in of_kind(objects, "Deployment")) == sorted(
        f"tamaru-{s}" for s in SERVICES
    )


# ---- network policies -------------------------------------------------------------------


def test_network_policies_appear_only_when_enabled(chart: Chart) -> None:
    assert of_kind(render(chart, {}), "NetworkPolicy") == []

    objects = render(chart, VALUE_SETS["production"])
    policies = {p["metadata"]["name"]: p for p in of_kind(objects, "NetworkPolicy")}

    assert sorted(policies) == sorted(
        ["tamaru-baseline", "tamaru-operator", *(f"tamaru-{s}" for s in SERVICES)]
    )
    baseline = policies["tamaru-baseline"]["spec"]
    assert baseline["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "tamaru",
        "app.kubernetes.io/instance": "tamaru",
    }
    assert baseline["ingress"] == []  # deny by default
    egress_ports = {p["port"] for rule in baseline["egress"] for p in rule["ports"]}
    assert egress_ports == {53, 4222, 5432, 4317}
    for service in SERVICES:
        rule = policies[f"tamaru-{service}"]["spec"]["ingress"][0]
        assert rule["ports"] == [{"port": "grpc", "protocol": "TCP"}]
        assert rule["from"]
    operator_ports = {
        p["port"] for r in policies["tamaru-operator"]["spec"]["egress"] for p in r["ports"]
    }
    assert operator_ports == {443, 6443}


def test_network_policies_cover_every_pod_the_chart_creates(chart: Chart) -> None:
    objects = render(chart, VALUE_SETS["production"])
    baseline = named(objects, "NetworkPolicy", "tamaru-baseline")
    selector = baseline["spec"]["podSelector"]["matchLabels"]

    for workload in of_kind(objects, "Deployment") + of_kind(objects, "Job"):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), workload["metadata"]["name"]
