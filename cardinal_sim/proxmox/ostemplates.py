"""What the simulator knows about the operating system inside a CT template: its systemd version.

pve-container warns after creating a container whose ``/sbin/init`` is systemd newer than 241 unless the
``nesting`` feature is on (``PVE::LXC::Setup::Base::check_systemd_nesting``, called from
``post_create_hook`` inside the ``vzcreate`` worker): the task log gets
``WARN: Systemd <N> detected. You may need to enable nesting.`` and the task ends ``WARNINGS: 1``.
The versions below are those the distributions ship (docs/fidelity/nesting-and-tags.md).
"""

from __future__ import annotations

import re

SYSTEMD_NESTING_ABOVE = 241
"""``check_systemd_nesting`` stays quiet for systemd ≤ 241 (Debian 10); newer versions warn."""

_SYSTEMD: tuple[tuple[str, int | None], ...] = (
    (r"debian-10-", 241),
    (r"debian-11-", 247),
    (r"debian-12-", 252),
    (r"debian-13-", 257),
    (r"ubuntu-20\.04-", 245),
    (r"ubuntu-22\.04-", 249),
    (r"ubuntu-24\.04-", 255),
    (r"ubuntu-24\.10-", 256),
    (r"ubuntu-25\.04-", 257),
    (r"(rockylinux|almalinux|centos)-9-", 252),
    (r"fedora-4[0-9]-", 256),
    (r"archlinux-", 257),
    (r"alpine-", None),  # OpenRC, no systemd
    (r"devuan-", None),  # sysvinit
)


def systemd_version(ostemplate: str) -> int | None:
    """The systemd version of the template's init, or ``None`` when it does not boot with systemd (or the
    simulator does not know the template)."""
    name = ostemplate.rsplit("/", 1)[-1].lower()
    for pattern, version in _SYSTEMD:
        if re.match(pattern, name):
            return version
    return None


def nesting_warning(ostemplate: str, features: str | None) -> str | None:
    """The warning ``check_systemd_nesting`` logs for this template and ``features`` value, or ``None``."""
    if features and re.search(r"(^|,)nesting=(1|on|yes|true)(,|$)", features):
        return None
    version = systemd_version(ostemplate)
    if version is None or version <= SYSTEMD_NESTING_ABOVE:
        return None
    return f"Systemd {version} detected. You may need to enable nesting."
