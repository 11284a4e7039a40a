"""What a container request stores (``container_request.spec``): the spec its containers share, their
host names, the preset it was sized from and whether it needs an approver.

The JSON layout is the flat one stored since requests began: the :class:`ContainerSpec` fields plus
``hostnames``, ``preset`` and ``needs_approval``, so rows written before this model read unchanged.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from bot.containers.spec import ContainerSpec, Hostname

_EXTRA = frozenset({"hostnames", "preset", "needs_approval"})


class RequestSpec(ContainerSpec):
    """A request's stored spec. ``hostname`` is the base name; ``hostnames`` one per container
    (``web-1`` … ``web-N``, or just the base name for one container)."""

    hostnames: list[Hostname] = Field(min_length=1)
    preset: str | None = None
    needs_approval: bool = True

    @model_validator(mode="before")
    @classmethod
    def _one_container_by_default(cls, data: Any) -> Any:
        if isinstance(data, dict) and "hostnames" not in data and "hostname" in data:
            return {**data, "hostnames": [data["hostname"]]}
        return data

    @classmethod
    def of(
        cls, spec: ContainerSpec, hostnames: list[str], *, preset: str | None, needs_approval: bool
    ) -> RequestSpec:
        """The stored spec of a request for ``hostnames`` built from ``spec``."""
        return cls.model_validate(
            {
                **spec.model_dump(),
                "hostnames": hostnames,
                "preset": preset,
                "needs_approval": needs_approval,
            }
        )

    def container_spec(self, hostname: str | None = None) -> ContainerSpec:
        """The spec of one container of the request (``hostname`` replaces the base name)."""
        data = self.model_dump(exclude=set(_EXTRA))
        if hostname is not None:
            data["hostname"] = hostname
        return ContainerSpec.model_validate(data)
