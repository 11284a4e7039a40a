"""The appliance index (``aplinfo.dat``), parsed as ``PVE::APLInfo`` does for ``GET …/aplinfo``."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

SOURCE = "http://download.proxmox.com/images"


def parse_aplinfo(text: str, source: str = SOURCE) -> list[dict[str, str]]:
    """Records as API items: lowercased fields plus ``headline``/``description``/``source``/``template``.

    The ``pve-web-news`` record and incomplete records are skipped; relative ``location`` values are
    prefixed with ``source``.
    """
    items: list[dict[str, str]] = []
    for record in re.split(r"\n\s*\n", text.strip()):
        res: dict[str, str] = {}
        lines = record.split("\n")
        i = 0
        while i < len(lines):
            line = lines[i]
            m = re.match(r"^([^:]+):\s*(.*?)\s*$", line)
            i += 1
            if m is None:
                continue
            key, value = m.group(1).lower(), m.group(2)
            if key == "description":
                cont: list[str] = []
                while i < len(lines) and re.match(r"^\s+", lines[i]):
                    cont.append(lines[i].strip())
                    i += 1
                res["headline"] = value
                res["description"] = " ".join(cont).strip()
            else:
                res[key] = value
        if res.get("package") == "pve-web-news":
            continue
        res.setdefault("section", "unknown")
        if not all(res.get(k) for k in ("package", "type", "os", "version", "infopage", "location")):
            continue
        location = res["location"]
        res["template"] = location.rsplit("/", 1)[-1]
        if not re.match(r"^[a-zA-Z]+://", location):
            res["location"] = f"{source}/{location}"
        res["source"] = source
        items.append(res)
    return items


@lru_cache(maxsize=1)
def packaged_aplinfo() -> tuple[dict[str, str], ...]:
    """The index shipped with the simulator (a copy of pve-manager's ``aplinfo/aplinfo.dat``)."""
    text = resources.files("cardinal_sim.proxmox").joinpath("data/aplinfo.dat").read_text(encoding="utf-8")
    return tuple(parse_aplinfo(text))


def template_format(filename: str) -> str:
    """``format`` of a vztmpl volume: ``t<ext>`` for ``.tar.<ext>``, ``tar`` for a plain ``.tar``."""
    m = re.search(r"\.tar(?:\.(gz|xz|zst|bz2))?$", filename)
    if m is None:
        return "raw"
    ext = m.group(1)
    if ext is None:
        return "tar"
    return {"gz": "tgz", "xz": "txz", "zst": "tzst", "bz2": "tbz2"}[ext]
