"""Who is calling, and what they may do: API tokens, tickets with CSRF tokens, and ACL checks.

Mirrors pve-access-control: tickets ``PVE:<userid>:<8 HEX time>::<signature>`` valid for 2 h (with 5 min
clock-skew grace), CSRF tokens ``<8 HEX time>:<hmac>`` bound to the user, and privilege checks that raise
``Permission check failed (<path>, <priv>)``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass

from cardinal_sim.proxmox.clock import SimClock
from cardinal_sim.proxmox.errors import perm_error
from cardinal_sim.proxmox.privileges import ALL_PRIVILEGES
from cardinal_sim.proxmox.state import Credential, Pool

TICKET_LIFETIME = 7200
AUTH_GRACE = 300
_TICKET_RE = re.compile(r"^PVE:([^\s:]+):([0-9A-F]{8})::(\S+)$")


@dataclass(frozen=True)
class Identity:
    """An authenticated caller. ``userid`` is what tasks record: ``user@realm!token`` for tokens."""

    userid: str
    credential: Credential
    is_token: bool
    via_ticket: bool

    @property
    def user(self) -> str:
        return self.userid.split("!", 1)[0]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


class AccessControl:
    """Tokens, users and ACLs, plus ticket/CSRF minting and verification on the simulator clock."""

    def __init__(self, clock: SimClock, secret: bytes) -> None:
        self.clock = clock
        self._secret = secret
        self.tokens: dict[str, Credential] = {}
        self.users: dict[str, Credential] = {}
        self.pools: dict[str, Pool] = {}

    # --- credentials -----------------------------------------------------------------------------

    def token(self, header_value: str) -> Identity | None:
        """Resolve ``USER@REALM!TOKENID=SECRET`` (split at the last ``=``)."""
        if "=" not in header_value:
            return None
        tokenid, secret = header_value.rsplit("=", 1)
        cred = self.tokens.get(tokenid)
        if cred is None or not cred.enabled or not hmac.compare_digest(cred.secret, secret):
            return None
        if cred.expire and cred.expire <= self.clock.now():
            return None
        owner = self.users.get(tokenid.split("!", 1)[0])
        if owner is not None and not owner.enabled:
            return None
        return Identity(tokenid, cred, is_token=True, via_ticket=False)

    def password_login(self, userid: str, password: str) -> Credential | None:
        """Check a password — or a still-valid ticket of the same user, which renews it."""
        cred = self.users.get(userid)
        if cred is None or not cred.enabled:
            return None
        if hmac.compare_digest(cred.secret, password):
            return cred
        ticket_user = self.verify_ticket(password)
        if ticket_user is not None and (ticket_user in (userid, "root@pam")):
            return cred
        return None

    # --- tickets ---------------------------------------------------------------------------------

    def _sign(self, text: str) -> str:
        return _b64(hmac.new(self._secret, text.encode(), hashlib.sha256).digest())

    def make_ticket(self, userid: str) -> str:
        """A ticket for ``userid`` stamped with the simulator's current time."""
        plain = f"PVE:{userid}:{int(self.clock.now()):08X}"
        return f"{plain}::{self._sign(plain)}"

    def _age_ok(self, stamp: int) -> bool:
        age = self.clock.now() - stamp
        return -AUTH_GRACE < age < TICKET_LIFETIME

    def verify_ticket(self, ticket: str) -> str | None:
        """The ticket's user when its signature and age are valid, else ``None``."""
        m = _TICKET_RE.match(ticket)
        if m is None:
            return None
        plain = f"PVE:{m.group(1)}:{m.group(2)}"
        if not hmac.compare_digest(self._sign(plain), m.group(3)):
            return None
        if not self._age_ok(int(m.group(2), 16)):
            return None
        return m.group(1)

    def ticket_identity(self, ticket: str) -> Identity | None:
        """Resolve a ``PVEAuthCookie`` value to the (enabled) user it was issued to."""
        userid = self.verify_ticket(ticket)
        if userid is None:
            return None
        cred = self.users.get(userid)
        if cred is None or not cred.enabled:
            return None
        return Identity(userid, cred, is_token=False, via_ticket=True)

    def make_csrf(self, userid: str) -> str:
        """A ``CSRFPreventionToken`` for ``userid``."""
        stamp = f"{int(self.clock.now()):08X}"
        return f"{stamp}:{self._sign(f'{stamp}:{userid}')}"

    def verify_csrf(self, userid: str, token: str | None) -> bool:
        """True when ``token`` was minted for ``userid`` and is not older than the ticket lifetime."""
        if not token:
            return False
        m = re.match(r"^([0-9A-F]{8}):(\S+)$", token)
        if m is None:
            return False
        if not hmac.compare_digest(self._sign(f"{m.group(1)}:{userid}"), m.group(2)):
            return False
        return self._age_ok(int(m.group(1), 16))

    # --- ACL -------------------------------------------------------------------------------------

    @staticmethod
    def acl_privileges(cred: Credential, path: str) -> set[str]:
        """Privileges from ACL entries on ``path`` itself plus those propagated from its parents."""
        if cred.privileges is None:
            return set(ALL_PRIVILEGES)
        path = "/" + path.strip("/")
        found: set[str] = set()
        for acl_path, privs in cred.privileges.items():
            acl = "/" + acl_path.strip("/")
            if acl in (path, "/") or path.startswith(acl + "/"):
                found |= privs
        return found

    def privileges_on(self, cred: Credential, path: str) -> set[str]:
        """Privileges on ``path``: the ACL's, plus the roles of ``/pool/<id>`` when ``path`` is a member
        guest (``/vms/<vmid>``) or member storage (``/storage/<id>``) of that pool — exactly that path,
        not propagated (``RPCEnvironment.pm`` ``compute_api_permission``)."""
        found = self.acl_privileges(cred, path)
        path = "/" + path.strip("/")
        for pool in self.pools.values():
            members = {f"/vms/{v}" for v in pool.vms} | {f"/storage/{s}" for s in pool.storage}
            if path in members:
                found |= self.acl_privileges(cred, f"/pool/{pool.poolid}")
        return found

    def check(self, identity: Identity, path: str, privs: Iterable[str], *, any_of: bool = False) -> None:
        """Raise 403 ``Permission check failed (<path>, <priv>)`` unless the privileges are held."""
        wanted = list(privs)
        have = self.privileges_on(identity.credential, path)
        if any_of:
            if not have.intersection(wanted):
                raise perm_error(f"{path}, {'|'.join(wanted)}")
            return
        for priv in wanted:
            if priv not in have:
                raise perm_error(f"{path}, {priv}")

    def has(self, identity: Identity, path: str, priv: str) -> bool:
        """Whether ``priv`` is held on ``path``."""
        return priv in self.privileges_on(identity.credential, path)

    def permissions_map(self, identity: Identity, path: str | None) -> dict[str, dict[str, int]]:
        """``GET /access/permissions``: ``{path: {privilege: propagate}}``."""
        cred = identity.credential
        if path is not None:
            return {path: dict.fromkeys(sorted(self.privileges_on(cred, path)), 1)}
        if cred.privileges is None:
            return {"/": dict.fromkeys(sorted(ALL_PRIVILEGES), 1)}
        out = {p: dict.fromkeys(sorted(privs), 1) for p, privs in sorted(cred.privileges.items())}
        # Paths referenced by pools get their own entry, with pool-derived privileges not propagating.
        for pool in self.pools.values():
            for member in [f"/vms/{v}" for v in sorted(pool.vms)] + [f"/storage/{s}" for s in pool.storage]:
                extra = self.acl_privileges(cred, f"/pool/{pool.poolid}") - self.acl_privileges(cred, member)
                if extra:
                    entry = out.setdefault(member, {})
                    for priv in sorted(extra):
                        entry.setdefault(priv, 0)
        return out
