"""Generated Kubernetes manifests are schema-valid and carry the deployment contract."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import yaml


def _manifests(rendered_cases: dict[str, dict[str, str]]) -> dict[str, dict[str, Any]]:
    return {
        f"{case}/{path}": yaml.safe_load(text)
        for case, tree in rendered_cases.items()
        for path, text in tree.items()
        if "/deploy/" in path
    }


def test_manifests_pass_strict_schema_validation(rendered_cases: dict[str, dict[str, str]]) -> None:
    """Every manifest validates against the Kubernetes schemas, unknown fields refused."""
    manifests = _manifests(rendered_cases)
    assert len(manifests) == 18
    for name, manifest in manifests.items():
        try:
            kubernetes_validate.validate(manifest, kubernetes_validate.latest_version(), strict=True)
        except kubernetes_validate.ValidationError as error:
            raise AssertionError(f"{name}: {error}") from error


def test_deployment_spreads_replicas_probes_health_and_is_disruption_safe(
    rendered_cases: dict[str, dict[str, str]],
) -> None:
    """Replicas follow the spec, pods prefer other nodes, probes hit health and readiness, a PDB keeps one."""
    manifests = _manifests(rendered_cases)
    characters = manifests["kitchen_sink/atlas_characters/deploy/deployment.yaml"]
    assert characters["spec"]["replicas"] == 3
    assert manifests["kitchen_sink/atlas_map_viewer/deploy/deployment.yaml"]["spec"]["replicas"] == 1
    pod = manifests["parties/atlas_parties/deploy/deployment.yaml"]["spec"]["template"]["spec"]
    preferred = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert preferred[0]["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    container = pod["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/api/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/api/readyz"
    pdb = manifests["parties/atlas_parties/deploy/pdb.yaml"]
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == {"app": "atlas-parties"}


def test_called_services_are_reached_directly(rendered_cases: dict[str, dict[str, str]]) -> None:
    """A service that calls another gets `<NAME>_SERVICE_URL` pointing at that service, not the ingress."""
    deployment = _manifests(rendered_cases)["kitchen_sink/atlas_map_viewer/deploy/deployment.yaml"]
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["CHARACTERS_SERVICE_URL"] == "http://atlas-characters:8080/api/"
