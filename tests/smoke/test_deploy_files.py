"""The deploy files lint clean and say what the issue asks (offline validators from PyPI)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
BIN = Path(sys.executable).parent


def run(*argv: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_passes_hadolint_and_is_multi_stage_non_root() -> None:
    run(str(BIN / "hadolint"), str(DEPLOY / "Dockerfile"))
    text = (DEPLOY / "Dockerfile").read_text()
    assert text.count("\nFROM ") >= 2
    assert "USER 10001" in text
    assert "pip install --no-index --find-links=/wheels /wheels/sessionhub-" in text


def test_yaml_lints_and_manifests_validate_against_kubernetes_schemas() -> None:
    run(str(BIN / "yamllint"), "-s", "-c", str(DEPLOY / ".yamllint.yaml"), str(DEPLOY))
    manifests = sorted(str(p) for p in (DEPLOY / "k8s").glob("*.yaml"))
    run(str(BIN / "kubernetes-validate"), "--strict", "--quiet", *manifests)


def docs() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        found += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return found


def test_deployments_have_probes_resources_and_no_inline_secrets() -> None:
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs()}
    assert {("Deployment", "sessionhub-web"), ("Deployment", "sessionhub-worker")} <= kinds
    assert ("Job", "sessionhub-migrate") in kinds
    assert {d["kind"] for d in docs()} >= {"Service", "HorizontalPodAutoscaler", "ConfigMap"}
    assert "Secret" not in {d["kind"] for d in docs()}
    for doc in docs():
        if doc["kind"] not in ("Deployment", "Job"):
            continue
        pod = doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            assert container["resources"]["requests"]
            assert {"secretRef": {"name": "sessionhub-secrets"}} in container["envFrom"]
            assert "env" not in container  # values come from the ConfigMap and the Secret
            if doc["metadata"]["name"] == "sessionhub-web":
                assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
                assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
            elif doc["kind"] == "Deployment":
                assert container["readinessProbe"]
                assert container["livenessProbe"]
    hpas = {d["metadata"]["name"]: d for d in docs() if d["kind"] == "HorizontalPodAutoscaler"}
    assert hpas["sessionhub-web"]["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    external = hpas["sessionhub-worker"]["spec"]["metrics"][0]["external"]
    assert external["metric"]["name"] == "sessionhub_queue_depth"


def test_compose_services_use_the_env_file_and_healthchecks() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "web", "worker", "sandbox"} <= set(services)
    anchor = compose["x-hub"]
    assert anchor["env_file"] == [".env"]
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])
    assert services["worker"]["deploy"]["replicas"] == 2
    for name in ("postgres", "redis", "web", "worker"):
        assert services[name]["healthcheck"]["test"]


@pytest.mark.parametrize("source", ["app/config.py", "deploy/k8s/configmap.yaml"])
def test_env_example_lists_every_variable(source: str) -> None:
    import re

    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (DEPLOY / "env.example").read_text(), re.M))
    text = (DEPLOY.parent / source).read_text()
    wanted = set(
        re.findall(r"\b((?:SESSIONHUB|GUNICORN)_[A-Z0-9_]*[A-Z0-9]|DATABASE_URL|REDIS_URL)\b", text)
    )
    if source == "app/config.py":
        for slug in ("CALCOM", "DAILY", "GOOGLE", "OUTLOOK", "STRIPE"):
            wanted |= {f"SESSIONHUB_{slug}_{k}" for k in ("WEBHOOK_SECRET", "API_URL", "API_KEY")}
        for slug in ("GOOGLE", "OUTLOOK"):
            wanted |= {
                f"SESSIONHUB_{slug}_{k}"
                for k in ("CLIENT_ID", "CLIENT_SECRET", "OAUTH_URL", "TENANT", "AUTHORITY_URL")
                if not (slug == "GOOGLE" and k in ("TENANT", "AUTHORITY_URL"))
            }
    assert wanted - listed == set()
    assert "CHANGE-ME" in (DEPLOY / "env.example").read_text()
