"""Real OpenSSH public keys (made with cryptography) and a valid request to vary."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

TEMPLATE = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"


def openssh(public_key: Any, comment: str = "alice@laptop") -> str:
    """The one-line OpenSSH form of a public key, with a comment."""
    raw = public_key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return f"{raw.decode('ascii')} {comment}"


def ssh_string(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


@pytest.fixture(scope="session")
def ed25519_key() -> str:
    return openssh(ed25519.Ed25519PrivateKey.generate().public_key())


@pytest.fixture(scope="session")
def rsa_key() -> str:
    return openssh(rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key())


@pytest.fixture(scope="session")
def small_rsa_key() -> str:
    """Deliberately too short: Cardinal must refuse it."""
    return openssh(rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key())  # noqa: S505


@pytest.fixture(scope="session", params=["secp256r1", "secp384r1", "secp521r1"])
def ecdsa_key(request: pytest.FixtureRequest) -> str:
    curve = {"secp256r1": ec.SECP256R1(), "secp384r1": ec.SECP384R1(), "secp521r1": ec.SECP521R1()}
    return openssh(ec.generate_private_key(curve[request.param]).public_key())


@pytest.fixture(scope="session")
def sk_ed25519_key() -> str:
    """A FIDO (security key) Ed25519 public key, built by hand in the OpenSSH wire format."""
    kind = b"sk-ssh-ed25519@openssh.com"
    pk = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    blob = ssh_string(kind) + ssh_string(pk) + ssh_string(b"ssh:")
    return f"{kind.decode()} {base64.b64encode(blob).decode()} yubikey"


@pytest.fixture
def valid_request(ed25519_key: str) -> dict[str, Any]:
    """A complete, valid request as the Slack modal would hand it over."""
    return {
        "hostname": "web-1",
        "template": TEMPLATE,
        "cores": 2,
        "memory_mib": 2048,
        "swap_mib": 512,
        "disk_gib": 8,
        "storage": "local-lvm",
        "nets": [
            {
                "name": "eth0",
                "bridge": "vmbr0",
                "mode": "static",
                "ipv4_cidr": "10.0.0.5/24",
                "gateway": "10.0.0.1",
                "vlan": 20,
            }
        ],
        "features": {"nesting": True},
        "ssh_public_keys": [ed25519_key],
        "tags": ["web"],
        "description": "Web frontend\nowner: alice",
    }
