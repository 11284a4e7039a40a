"""Packaging and deployment files: manifests parse and agree with the code, generated docs are current,
and the Docker image's health check really reaches /healthz."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.ops.health import make_ops_app, readiness_from_probes
from bot.ops.metrics import Metrics
from bot.ops.scopes import REQUIRED_BOT_SCOPES
from bot.settings import Settings
from tests.ops.conftest import ROOT

MANIFESTS = ROOT / "manifests"
SLACK_MANIFESTS = ["slack-app-socket-mode.yaml", "slack-app-http.yaml"]


def _yaml(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text("utf-8")) if doc is not None]


@pytest.mark.parametrize("path", sorted(MANIFESTS.rglob("*.y*ml")), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_yaml_manifest_parses(path: Path) -> None:
    assert _yaml(path), f"{path} holds no YAML document"


@pytest.mark.parametrize("name", SLACK_MANIFESTS)
def test_slack_manifest_matches_what_cardinal_uses(name: str) -> None:
    (manifest,) = _yaml(MANIFESTS / name)
    assert manifest["_metadata"]["major_version"] == 1
    assert manifest["display_information"]["name"] == "Cardinal"
    assert manifest["oauth_config"]["scopes"]["bot"] == list(REQUIRED_BOT_SCOPES)
    features = manifest["features"]
    (command,) = features["slash_commands"]
    assert command["command"] == "/lxc"
    assert command["usage_hint"]
    assert features["app_home"]["home_tab_enabled"] is True
    assert features["app_home"]["messages_tab_enabled"] is True
    settings = manifest["settings"]
    assert settings["interactivity"]["is_enabled"] is True
    assert "app_home_opened" in settings["event_subscriptions"]["bot_events"]
    http = name == "slack-app-http.yaml"
    assert settings["socket_mode_enabled"] is not http
    if http:
        for url in (
            command["url"],
            settings["interactivity"]["request_url"],
            settings["event_subscriptions"]["request_url"],
        ):
            assert url.startswith("https://")
            assert url.endswith("/slack/events")


def test_kubernetes_deployment_probes_the_internal_port() -> None:
    (deployment,) = _yaml(MANIFESTS / "kubernetes" / "deployment.yaml")
    (secret,) = _yaml(MANIFESTS / "kubernetes" / "secret.example.yaml")
    (service,) = _yaml(MANIFESTS / "kubernetes" / "service.yaml")
    assert deployment["spec"]["replicas"] == 2
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 3000, "internal": 9090}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "internal"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "internal"}
    assert set(container["resources"]) == {"requests", "limits"}
    assert container["envFrom"] == [{"secretRef": {"name": secret["metadata"]["name"]}}]
    assert secret["stringData"]["DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert set(secret["stringData"]) <= {name.upper() for name in Settings.model_fields}
    assert service["spec"]["ports"][0]["port"] == 3000
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_kubernetes_deployment_mounts_a_policy_without_warnings(tmp_path: Path) -> None:
    from bot.policy import load_policy

    (deployment,) = _yaml(MANIFESTS / "kubernetes" / "deployment.yaml")
    (configmap,) = _yaml(MANIFESTS / "kubernetes" / "policy.configmap.yaml")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    mount = next(m for m in container["volumeMounts"] if m["name"] == "policy")
    volume = next(v for v in pod["volumes"] if v["name"] == "policy")
    assert volume["configMap"]["name"] == configmap["metadata"]["name"]
    assert env["POLICY_FILE"] == f"{mount['mountPath']}/policy.toml"
    policy = tmp_path / "policy.toml"
    policy.write_text(configmap["data"]["policy.toml"])
    assert load_policy(policy).warnings() == []
    text = (MANIFESTS / "kubernetes" / "deployment.yaml").read_text("utf-8")
    assert "A placeholder: no public image is published" in text


def test_kubernetes_notify_service_exposes_the_internal_port_only_to_proxmox() -> None:
    (deployment,) = _yaml(MANIFESTS / "kubernetes" / "deployment.yaml")
    service, policy = _yaml(MANIFESTS / "kubernetes" / "notify-service.yaml")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    internal = next(p for p in container["ports"] if p["name"] == "internal")
    assert service["spec"]["ports"] == [
        {"name": "internal", "port": internal["containerPort"], "targetPort": "internal", "protocol": "TCP"}
    ]
    assert policy["kind"] == "NetworkPolicy"
    (from_proxmox, _) = policy["spec"]["ingress"]
    assert from_proxmox["ports"] == [{"port": "internal", "protocol": "TCP"}]
    assert "ipBlock" in from_proxmox["from"][0]


# --- generated configuration docs ----------------------------------------------------------------


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_config_docs", ROOT / "scripts" / "gen_config_docs.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_env_example_lists_exactly_the_settings_fields() -> None:
    text = (ROOT / ".env.example").read_text("utf-8")
    names = re.findall(r"^#?([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE)
    assert sorted(names) == sorted(name.upper() for name in Settings.model_fields)
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^#?[A-Z][A-Z0-9_]*=", line):
            assert lines[i - 1].startswith("# "), f"no comment above {line}"


def test_env_example_as_is_gives_valid_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    settings = Settings(_env_file=ROOT / ".env.example")
    assert settings.uses_token
    assert not settings.socket_mode


def test_generated_files_are_current() -> None:
    generator = _generator()
    assert (ROOT / ".env.example").read_text("utf-8") == generator.render_env_example()
    assert (ROOT / "docs" / "configuration.md").read_text("utf-8") == generator.render_configuration_md()


def test_configuration_doc_has_a_row_per_setting_with_its_default() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text("utf-8")
    for name, info in Settings.model_fields.items():
        row = next(line for line in text.splitlines() if line.startswith(f"| `{name.upper()}` |"))
        assert ("| yes |" in row) is info.is_required(), row
    assert "| `PROXMOX_PORT` | `8006` |" in text


# --- Docker ---------------------------------------------------------------------------------------


def _dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text("utf-8")


def test_dockerfile_builds_in_two_stages_and_runs_unprivileged_without_secrets() -> None:
    text = _dockerfile()
    images = re.findall(r"^FROM (\S+)", text, flags=re.MULTILINE)
    assert len(images) == 2
    assert len(set(images)) == 1
    # Pinned to a patch release (python:3.11.N-slim-…), so two builds of one commit start alike.
    assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+", images[0]), images[0]
    assert re.search(r"^USER cardinal$", text, flags=re.MULTILINE)
    assert "VOLUME /data" in text
    assert "DATABASE_URL=sqlite+aiosqlite:////data/cardinal.db" in text
    assert 'CMD ["cardinal", "run"]' in text
    secrets = ("TOKEN", "SECRET", "PASSWORD", "SIGNING")
    for line in text.splitlines():
        if line.startswith(("ENV", "ARG")) or line.startswith("    "):
            assert not any(word in line for word in secrets), line
    ignored = (ROOT / ".dockerignore").read_text("utf-8").splitlines()
    assert ".env" in ignored


async def test_docker_healthcheck_command_reaches_healthz(
    aiohttp_server: Callable[[web.Application], Awaitable[TestServer]],
) -> None:
    m = re.search(r"^\s*CMD (\[.*\])$", _dockerfile().split("HEALTHCHECK", 1)[1], flags=re.MULTILINE)
    assert m is not None
    argv: list[str] = json.loads(m.group(1))
    assert argv[0] == "python"
    server = await aiohttp_server(make_ops_app(readiness_from_probes({}), Metrics().registry))

    async def run(port: int) -> int:
        env = {**os.environ, "INTERNAL_PORT": str(port)}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, *argv[1:], env=env, stderr=asyncio.subprocess.DEVNULL
        )
        return await proc.wait()

    port = server.port
    assert port is not None
    assert await run(port) == 0
    await server.close()
    assert await run(port) != 0  # nothing answers: the check fails
    assert await run(0) == 0  # INTERNAL_PORT=0 turns the internal server, and this check, off


def _constraints() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text("utf-8").splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert re.fullmatch(r"[A-Za-z0-9.+!-]+", version), f"not pinned: {line}"
            pins[name] = version
    return pins


def test_the_image_installs_exactly_the_pinned_dependencies_from_their_own_layer() -> None:
    text = _dockerfile()
    runs = re.findall(r"^RUN (.+)$", text, flags=re.MULTILINE)
    deps = next(r for r in runs if "pip wheel" in r and "constraints.txt" in r)
    app = next(r for r in runs if "pip wheel" in r and r.rstrip().endswith(" ."))
    # The dependency wheels are built before the sources are copied in, so editing code reuses them.
    assert text.index(deps) < text.index("COPY bot ./bot") < text.index(app)
    assert "--no-deps" in app
    installs = [r for r in runs if r.startswith("pip install")]
    assert installs
    assert all("--no-index" in r and "constraints.txt" in r for r in installs)
    assert "constraints.txt" in (ROOT / ".dockerignore").read_text("utf-8").splitlines()[0]


def test_constraints_pin_every_runtime_dependency_within_pyproject_ranges() -> None:
    import tomllib

    from packaging.requirements import Requirement

    pins = _constraints()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    for text in project["dependencies"]:
        req = Requirement(text)
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        assert name in pins, f"{req.name} is not in constraints.txt"
        assert req.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} vs {req}"
    gen = importlib.util.spec_from_file_location("gen_constraints", ROOT / "scripts" / "gen_constraints.py")
    assert gen is not None
    assert gen.loader is not None
    module = importlib.util.module_from_spec(gen)
    gen.loader.exec_module(module)
    assert set(module.pinned()) == set(pins)  # the whole closure, nothing extra (e.g. no dev tools)


def test_pytest_accepts_run_slow_as_pyproject_says() -> None:
    import subprocess

    text = (ROOT / "pyproject.toml").read_text("utf-8")
    assert "run with --run-slow" in text
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--run-slow",
            "--collect-only",
            "-q",
            "tests/reliability/test_crash.py",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "test_repeated_sigkills_lose_nothing_and_double_nothing" in done.stdout
