"""Cardinal's settings, read from the environment and ``.env`` (pydantic-settings).

Names are the environment variable names (case-insensitive). Secrets are ``SecretStr``. A bad or
missing setting raises :class:`bot.errors.ConfigError` with one line per problem naming the variable
and the rule — never the value, which may be a secret.
"""

from __future__ import annotations

import re
import zoneinfo
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError

_TOKEN_ID_RE = re.compile(r"^[A-Za-z0-9._@-]+@[A-Za-z0-9._-]+![A-Za-z][A-Za-z0-9._-]*$")
_USERID_RE = re.compile(r"^[^\s:/@]+@[A-Za-z0-9._-]+$")
_FINGERPRINT_RE = re.compile(r"^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$")


class Settings(BaseSettings):
    """Every setting Cardinal reads. ``.env.example`` documents each one (a test checks it)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False, frozen=True
    )

    # --- Proxmox connection -------------------------------------------------------------------
    proxmox_host: str = Field(description="Proxmox VE host name or IP (one cluster node or a VIP).")
    proxmox_port: int = Field(8006, ge=1, le=65535, description="Proxmox API port.")
    proxmox_token: str | None = Field(
        None, description="API token id, USER@REALM!TOKENID (with PROXMOX_SECRET)."
    )
    proxmox_secret: SecretStr | None = Field(None, description="API token secret (UUID).")
    proxmox_username: str | None = Field(
        None, description="USER@REALM for ticket auth (with PROXMOX_PASSWORD), when no token is used."
    )
    proxmox_password: SecretStr | None = Field(None, description="Password for ticket auth.")
    proxmox_node: str | None = Field(
        None,
        description=(
            "Default node: containers go there when it holds the template and has room, and /lxc templates "
            "lists its storage; empty = the allowed node holding the template with most free memory."
        ),
    )
    proxmox_verify_tls: bool = Field(True, description="Verify the TLS certificate (keep true).")
    proxmox_ca_file: Path | None = Field(None, description="CA bundle that signed the Proxmox certificate.")
    proxmox_fingerprint: str | None = Field(
        None, description="Pinned SHA-256 certificate fingerprint, AA:BB:… as Proxmox shows it."
    )
    proxmox_timeout_read: float = Field(10.0, gt=0, description="Seconds for quick reads.")
    proxmox_timeout_write: float = Field(30.0, gt=0, description="Seconds for writes (create, power).")
    proxmox_timeout_long: float = Field(120.0, gt=0, description="Seconds for long calls (log, downloads).")
    proxmox_concurrency: int = Field(
        5, ge=1, le=100, description="Creations/operations in flight against Proxmox at once."
    )
    proxmox_ui_url: str | None = Field(
        None, description="Base URL of the Proxmox web UI for links; default https://HOST:PORT."
    )

    # --- Slack --------------------------------------------------------------------------------
    slack_bot_token: SecretStr = Field(description="Bot token, xoxb-….")
    slack_signing_secret: SecretStr | None = Field(
        None, description="Signing secret; required in HTTP mode (no SLACK_APP_TOKEN)."
    )
    slack_app_token: SecretStr | None = Field(None, description="App-level token xapp-… enables Socket Mode.")
    slack_api_url: str = Field("https://slack.com/api/", description="Slack Web API base URL.")

    # --- Storage, policy, runtime -------------------------------------------------------------
    database_url: str = Field(
        "sqlite+aiosqlite:///./data/cardinal.db",
        description="SQLAlchemy URL: sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db.",
    )
    policy_file: Path | None = Field(None, description="Policy TOML file; built-in defaults when unset.")
    http_port: int = Field(3000, ge=1, le=65535, description="Port for POST /slack/events in HTTP mode.")
    internal_port: int = Field(9090, ge=0, le=65535, description="Port for /healthz, /readyz, /metrics.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", description="auto = console on a terminal, JSON otherwise."
    )
    sweep_interval: float = Field(3.0, gt=0, le=300, description="Seconds between task-tracker sweeps.")
    create_deadline_minutes: int = Field(
        30, ge=1, description="Minutes before a create is reported timed out."
    )
    timezone: str = Field("UTC", description="Time zone for digests and expiry times (IANA name).")
    proxmox_notify_secret: SecretStr | None = Field(
        None,
        description="Shared secret Proxmox sends (X-Cardinal-Secret) to POST /proxmox/notify on "
        "INTERNAL_PORT; unset = endpoint disabled.",
    )

    @field_validator("proxmox_token")
    @classmethod
    def _token_id(cls, v: str | None) -> str | None:
        if v is not None and not _TOKEN_ID_RE.match(v):
            raise ValueError("must look like USER@REALM!TOKENID, e.g. cardinal@pve!bot")
        return v

    @field_validator("proxmox_username")
    @classmethod
    def _userid(cls, v: str | None) -> str | None:
        if v is not None and not _USERID_RE.match(v):
            raise ValueError("must look like USER@REALM, e.g. cardinal@pve")
        return v

    @field_validator("proxmox_fingerprint")
    @classmethod
    def _fingerprint(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not _FINGERPRINT_RE.match(v.strip()):
            raise ValueError("must be a SHA-256 fingerprint: 32 hex pairs separated by ':'")
        return v.strip().upper()

    @field_validator("proxmox_host")
    @classmethod
    def _host(cls, v: str) -> str:
        if not v or "/" in v or any(c.isspace() for c in v):
            raise ValueError("must be a host name or IP address, without scheme or path")
        return v

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, v: SecretStr) -> SecretStr:
        if not v.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return v

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return v

    @field_validator("proxmox_notify_secret")
    @classmethod
    def _notify_secret(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None:
            return v
        value = v.get_secret_value()
        if len(value) < 16 or any(c.isspace() or not c.isprintable() for c in value):
            raise ValueError("must be at least 16 printable characters without spaces (openssl rand -hex 32)")
        return v

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, v: str) -> str:
        if not re.match(r"^https?://", v):
            raise ValueError("must be an http(s) URL")
        return v if v.endswith("/") else v + "/"

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown time zone; use an IANA name such as UTC or Europe/Berlin") from None
        return v

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, v: str) -> str:
        if not v.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return v

    @model_validator(mode="after")
    def _auth_and_mode(self) -> Self:
        has_token = self.proxmox_token is not None or self.proxmox_secret is not None
        has_ticket = self.proxmox_username is not None or self.proxmox_password is not None
        if has_token and (self.proxmox_token is None or self.proxmox_secret is None):
            raise ValueError("PROXMOX_TOKEN and PROXMOX_SECRET must be set together")
        if has_ticket and (self.proxmox_username is None or self.proxmox_password is None):
            raise ValueError("PROXMOX_USERNAME and PROXMOX_PASSWORD must be set together")
        if not has_token and not has_ticket:
            raise ValueError(
                "Proxmox credentials are missing: set PROXMOX_TOKEN + PROXMOX_SECRET "
                "(or PROXMOX_USERNAME + PROXMOX_PASSWORD)"
            )
        if self.slack_app_token is None and self.slack_signing_secret is None:
            raise ValueError("SLACK_SIGNING_SECRET is required in HTTP mode (when SLACK_APP_TOKEN is unset)")
        if self.proxmox_fingerprint and not self.proxmox_verify_tls:
            raise ValueError("PROXMOX_FINGERPRINT and PROXMOX_VERIFY_TLS=false contradict each other")
        return self

    @property
    def uses_token(self) -> bool:
        return self.proxmox_token is not None

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def proxmox_base_url(self) -> str:
        return f"https://{self.proxmox_host}:{self.proxmox_port}/api2/json"

    @property
    def proxmox_web_url(self) -> str:
        return (self.proxmox_ui_url or f"https://{self.proxmox_host}:{self.proxmox_port}").rstrip("/")


def env_name(field: str) -> str:
    """The environment variable for a settings field."""
    return field.upper()


def format_errors(exc: ValidationError) -> list[str]:
    """One readable line per problem, naming the variable and the rule; values are never echoed."""
    lines: list[str] = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = [str(p) for p in err.get("loc", ()) if p != "__root__"]
        msg = str(err.get("msg", "invalid"))
        msg = msg.removeprefix("Value error, ")
        if loc:
            lines.append(f"{env_name(loc[0])}: {msg}")
        else:
            lines.append(msg)
    return lines


def load_settings(**overrides: Any) -> Settings:
    """Read settings from env and ``.env``; raise :class:`ConfigError` listing every problem."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc)) from None
