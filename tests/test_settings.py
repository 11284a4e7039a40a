"""Settings: a bad configuration stops start-up with one line per problem, never echoing a secret."""

from __future__ import annotations

import pytest

from bot.errors import ConfigError
from bot.settings import Settings, load_settings

SECRET = "0e5b3f9a-1111-2222-3333-444455556666"

BASE = {
    "proxmox_host": "pve.example.org",
    "proxmox_token": "cardinal@pve!bot",
    "proxmox_secret": SECRET,
    "slack_bot_token": "xoxb-1-abc",
    "slack_signing_secret": "s3cr3t-signing",
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def problems(**values: object) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(**values)
    return info.value.problems


def test_valid_token_configuration_loads_with_defaults() -> None:
    s = load_settings(**BASE)
    assert s.proxmox_port == 8006
    assert s.proxmox_verify_tls is True
    assert s.uses_token
    assert not s.socket_mode
    assert s.proxmox_base_url == "https://pve.example.org:8006/api2/json"
    assert s.database_url.startswith("sqlite+aiosqlite://")


def test_reads_environment_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    with open(".env", "w", encoding="utf-8") as fh:
        fh.write("PROXMOX_HOST=from-dotenv\nPROXMOX_PORT=8443\n")
    for k, v in BASE.items():
        if k != "proxmox_host":
            monkeypatch.setenv(k.upper(), v)
    s = load_settings()
    assert (s.proxmox_host, s.proxmox_port) == ("from-dotenv", 8443)


def test_missing_required_settings_are_each_named() -> None:
    assert problems() == [
        "PROXMOX_HOST: Field required",
        "SLACK_BOT_TOKEN: Field required",
    ]


def test_proxmox_credentials_are_required() -> None:
    values = {k: v for k, v in BASE.items() if k not in ("proxmox_token", "proxmox_secret")}
    [line] = problems(**values)
    assert "PROXMOX_TOKEN" in line
    assert "PROXMOX_USERNAME" in line


def test_password_auth_is_accepted_instead_of_token() -> None:
    values = {k: v for k, v in BASE.items() if k not in ("proxmox_token", "proxmox_secret")}
    s = load_settings(**values, proxmox_username="cardinal@pve", proxmox_password="pw-123456")
    assert not s.uses_token


def test_token_without_secret_is_refused() -> None:
    values = dict(BASE)
    del values["proxmox_secret"]
    assert problems(**values) == ["PROXMOX_TOKEN and PROXMOX_SECRET must be set together"]


def test_bad_values_name_variable_and_rule_without_echoing_secrets() -> None:
    lines = problems(
        **{**BASE, "proxmox_port": "99999", "slack_bot_token": "xoxp-" + SECRET, "proxmox_token": "bot"}
    )
    text = "\n".join(lines)
    assert "PROXMOX_PORT: Input should be less than or equal to 65535" in lines
    assert "SLACK_BOT_TOKEN: must be a bot token starting with xoxb-" in lines
    assert "PROXMOX_TOKEN: must look like USER@REALM!TOKENID, e.g. cardinal@pve!bot" in lines
    assert SECRET not in text


def test_fingerprint_must_be_sha256_colon_form() -> None:
    assert problems(**BASE, proxmox_fingerprint="abc") == [
        "PROXMOX_FINGERPRINT: must be a SHA-256 fingerprint: 32 hex pairs separated by ':'"
    ]
    fp = ":".join(["ab"] * 32)
    assert load_settings(**BASE, proxmox_fingerprint=fp).proxmox_fingerprint == fp.upper()


def test_signing_secret_required_only_in_http_mode() -> None:
    values = {k: v for k, v in BASE.items() if k != "slack_signing_secret"}
    assert "SLACK_SIGNING_SECRET is required" in problems(**values)[0]
    assert load_settings(**values, slack_app_token="xapp-1-abc").socket_mode


def test_secrets_are_masked_in_repr() -> None:
    s = load_settings(**BASE)
    assert SECRET not in repr(s)
    assert "s3cr3t-signing" not in repr(s)
