"""The Helm chart renders with Helm's own engine and every manifest is valid Kubernetes.

Rendering goes through helm-python-sdk (Helm 4's Go SDK as a shared library, no helm binary),
so template functions, values.schema.json and `fail` behave exactly as on `helm install`.
Each manifest is checked against the Kubernetes OpenAPI schemas (kubernetes-validate, strict:
an unknown field is an error, as the API server's strict field validation would refuse it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

helm = pytest.importorskip("helm_python")
kubernetes_validate = pytest.importorskip("kubernetes_validate")

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "curbside"
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and a current one.
KUBE_VERSIONS = ("1.25.0", "1.33.0")


def render(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    with helm.Chart.load(CHART) as chart:
        files = chart.render(values or {}, name="curbside", namespace="clinics", is_install=True)
    return [doc for name, text in sorted(files.items()) if name.endswith((".yaml", ".yml"))
            for doc in yaml.safe_load_all(text) if doc]


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def pod_specs(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for d in docs:
        if d["kind"] in ("Deployment", "Job"):
            yield d["metadata"]["name"], d["spec"]["template"]["spec"]


def container(docs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (spec,) = [s for n, s in pod_specs(docs) if n == name]
    (c,) = spec["containers"]
    return c  # type: ignore[no-any-return]


VARIANTS = {
    "defaults": {},
    "autoscaling": {"autoscaling": {"enabled": True}},
    "no-pdb": {"podDisruptionBudget": {"enabled": False}},
    "instance-on-pvc": {"instance": {"existingClaim": "curbside-instance"},
                        "secrets": {"pairwiseSalt": {"name": "", "key": "pairwise_salt"}}},
    "audit-ed25519": {"auditCheckpoint": {"privateKeySecret": "audit-private",
                                          "publicKeySecret": "audit-public"}},
    "metrics-port": {"config": {"CURBSIDE_ISSUER": "https://id.example.org",
                                "CURBSIDE_METRICS_BIND": "0.0.0.0:9100"}},
}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_every_rendered_manifest_is_valid_kubernetes(variant: str, kube_version: str) -> None:
    docs = render(VARIANTS[variant])
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, kube_version, strict=True)


def test_helm_lint_finds_no_warning_or_error() -> None:
    report = helm.lint(CHART, strict=True)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_defaults_run_hub_workers_and_a_pre_upgrade_migration() -> None:
    docs = render()
    deployments = {d["metadata"]["name"]: d for d in by_kind(docs, "Deployment")}
    assert set(deployments) == {"curbside-hub", "curbside-queue-worker", "curbside-logout-worker"}
    assert deployments["curbside-hub"]["spec"]["replicas"] == 2
    assert container(docs, "curbside-queue-worker")["command"] == ["hub", "worker"]
    assert container(docs, "curbside-logout-worker")["command"] == ["hub", "logout-worker"]
    assert "command" not in container(docs, "curbside-hub")  # the image's gunicorn CMD

    (job,) = by_kind(docs, "Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    migrate = container(docs, job["metadata"]["name"])
    assert migrate["command"] == ["hub", "db", "upgrade"]
    # The migration role's Secret comes last, so its CURBSIDE_DATABASE_URL wins (envFrom order).
    assert [s["secretRef"]["name"] for s in migrate["envFrom"]] == ["curbside-env", "curbside-migration-env"]
    # Only the Job sees the migration role.
    for name, spec in pod_specs(docs):
        if name != job["metadata"]["name"]:
            assert [s["secretRef"]["name"] for s in spec["containers"][0]["envFrom"]] == ["curbside-env"]

    (service,) = by_kind(docs, "Service")
    assert service["spec"]["selector"] == deployments["curbside-hub"]["spec"]["selector"]["matchLabels"]


def test_hub_probes_use_healthz_and_readyz() -> None:
    hub = container(render(), "curbside-hub")
    assert hub["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert hub["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert hub["ports"] == [{"name": "http", "containerPort": 5000, "protocol": "TCP"}]


def test_every_pod_is_non_root_read_only_with_tmp_and_a_read_only_instance_folder() -> None:
    docs = render()
    specs = dict(pod_specs(docs))
    assert len(specs) == 4
    for name, spec in specs.items():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] == 10001, name  # deploy/Containerfile
        assert spec["automountServiceAccountToken"] is False, name
        (c,) = spec["containers"]
        assert c["securityContext"]["readOnlyRootFilesystem"] is True, name
        assert c["securityContext"]["allowPrivilegeEscalation"] is False, name
        assert c["securityContext"]["capabilities"]["drop"] == ["ALL"], name
        assert c["resources"]["requests"] and c["resources"]["limits"], name
        mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
        assert set(mounts) == {"/tmp", "/home/curbside/instance"}, name
        # Read-only: a pod missing a secret stops at start instead of generating its own.
        assert mounts["/home/curbside/instance"]["readOnly"] is True, name
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert "emptyDir" in volumes["tmp"] and "emptyDir" in volumes["instance"]
        # Every pod reads the one salt, from the same Secret.
        (salt,) = [e for e in c["env"] if e["name"] == "CURBSIDE_PAIRWISE_SALT"]
        assert salt["valueFrom"]["secretKeyRef"] == {"name": "curbside-instance",
                                                     "key": "pairwise_salt"}, name


def test_no_secret_value_appears_in_any_manifest() -> None:
    docs = render()
    assert by_kind(docs, "Secret") == []
    for _, spec in pod_specs(docs):
        env = {e["name"] for e in spec["containers"][0]["env"]}
        assert not env & {"CURBSIDE_SECRET_KEY", "CURBSIDE_KEY_ENCRYPTION_KEYS",
                          "CURBSIDE_DATABASE_URL", "CURBSIDE_STORE_URL"}


@pytest.mark.parametrize("setting", ["CURBSIDE_SECRET_KEY", "CURBSIDE_DATABASE_URL"])
def test_a_secret_given_inline_in_values_is_refused(setting: str) -> None:
    with pytest.raises(helm.HelmValuesError, match=setting):
        render({"config": {"CURBSIDE_ISSUER": "https://id.example.org", setting: "s3cret"}})


def test_an_http_issuer_is_refused() -> None:
    with pytest.raises(helm.HelmValuesError, match="CURBSIDE_ISSUER"):
        render({"config": {"CURBSIDE_ISSUER": "http://id.example.org"}})


def test_without_a_salt_secret_or_a_shared_instance_folder_the_chart_refuses_to_render() -> None:
    # A salt per pod would give a doctor a different `sub` at a partner network with each
    # pod that answered.
    with pytest.raises(helm.HelmRenderError, match="pairwise"):
        render({"secrets": {"pairwiseSalt": {"name": "", "key": "pairwise_salt"}}})


def test_instance_on_a_claim_is_writable() -> None:
    docs = render(VARIANTS["instance-on-pvc"])
    hub = container(docs, "curbside-hub")
    (mount,) = [m for m in hub["volumeMounts"] if m["name"] == "instance"]
    assert mount["readOnly"] is False
    (spec,) = [s for n, s in pod_specs(docs) if n == "curbside-hub"]
    (vol,) = [v for v in spec["volumes"] if v["name"] == "instance"]
    assert vol["persistentVolumeClaim"] == {"claimName": "curbside-instance"}


def test_autoscaling_replaces_the_fixed_replica_count() -> None:
    assert by_kind(render(), "HorizontalPodAutoscaler") == []
    docs = render({"autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 9}})
    (hpa,) = by_kind(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": "curbside-hub"}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 9)
    (hub,) = [d for d in by_kind(docs, "Deployment") if d["metadata"]["name"] == "curbside-hub"]
    assert "replicas" not in hub["spec"]  # else every upgrade would reset the HPA's count


def test_pod_disruption_budget_keeps_a_hub_pod_and_can_be_turned_off() -> None:
    (pdb,) = by_kind(render(), "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "hub"
    assert by_kind(render({"podDisruptionBudget": {"enabled": False}}), "PodDisruptionBudget") == []


def test_config_reaches_every_pod_as_environment() -> None:
    docs = render({"config": {"CURBSIDE_ISSUER": "https://id.clinics.example", "CURBSIDE_SESSION_TTL": 3600}})
    for _, spec in pod_specs(docs):
        env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
        assert env["CURBSIDE_ISSUER"] == "https://id.clinics.example"
        assert env["CURBSIDE_SESSION_TTL"] == "3600"
