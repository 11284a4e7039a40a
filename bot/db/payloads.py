"""The JSON columns Cardinal stores, read and written as pydantic models at the repository boundary.

``tracked_task.params`` has one model per task kind; ``container_request.spec`` is a
:class:`bot.containers.stored.RequestSpec`. Repositories store only these models and read rows back into
them: a row that does not fit raises :class:`bot.db.errors.StoredRowInvalid` naming the row and the field,
instead of a ``KeyError`` somewhere later. The JSON keys are the ones stored since the tables began, so
rows written before these models existed read unchanged.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from bot.containers.stored import RequestSpec
from bot.db.enums import TaskKind
from bot.db.errors import StoredRowInvalid


class ProvisioningParams(BaseModel):
    """What every step of provisioning carries along: whose container it is and how it is called.

    ``expires_at`` is the ISO 8601 text of the container's expiry (shown in the ready message).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    hostname: str = ""
    requester: str | None = None
    expires_at: str | None = None

    def chain(self) -> ProvisioningParams:
        """The parameters the next step of the chain (start, addresses) carries."""
        return ProvisioningParams(
            hostname=self.hostname, requester=self.requester, expires_at=self.expires_at
        )


class CreateParams(ProvisioningParams):
    """A queued creation: the exact ``POST /nodes/{node}/lxc`` form **without** a password, and
    whether a root password is generated at submit time (it is never stored)."""

    create: dict[str, str | int]
    generate_password: bool = False

    @field_validator("create")
    @classmethod
    def _no_password(cls, value: dict[str, str | int]) -> dict[str, str | int]:
        if "password" in value:
            raise ValueError("must not hold a password; set generate_password instead")
        return value


TaskParams = CreateParams | ProvisioningParams
"""The parameters of any ledger row (day-2 kinds carry none)."""

_PROVISIONING: dict[TaskKind, type[ProvisioningParams]] = {
    TaskKind.CREATE: CreateParams,
    TaskKind.CREATE_START: ProvisioningParams,
    TaskKind.CREATE_IP: ProvisioningParams,
}
PARAMS_OF: dict[TaskKind, type[ProvisioningParams] | None] = {
    kind: _PROVISIONING.get(kind) for kind in TaskKind
}
"""The params model of each kind; ``None``: the kind carries no parameters."""


def check_params(kind: TaskKind, params: TaskParams | None) -> dict[str, Any] | None:
    """The JSON to store for ``params`` of a ``kind`` row (``None``: no parameters).

    Raises ``ValueError`` when ``params`` is not the model of ``kind``.
    """
    if params is None:
        return None
    model = PARAMS_OF[TaskKind(kind)]
    if model is None:
        raise ValueError(f"a {kind} task carries no parameters")
    if type(params) is not model:
        raise ValueError(f"a {kind} task needs {model.__name__}, not {type(params).__name__}")
    return params.model_dump(mode="json")


def kind_of(raw: object, row_id: str) -> TaskKind:
    """The stored ``kind`` as a :class:`TaskKind`; raises :class:`StoredRowInvalid` for any other text."""
    try:
        return TaskKind(str(raw))
    except ValueError:
        raise StoredRowInvalid(
            "tracked_task", row_id, [f"kind: {str(raw)[:32]!r} is not a task kind"]
        ) from None


def _problems(exc: ValidationError, prefix: str) -> list[str]:
    return [
        f"{prefix}.{'.'.join(str(p) for p in err['loc']) or '(all)'}: {err['msg']}"
        for err in exc.errors(include_url=False, include_input=False)
    ]


def read_request_spec(raw: object, row_id: str) -> RequestSpec:
    """The stored ``spec`` JSON of a request as its model; raises :class:`StoredRowInvalid`."""
    try:
        return RequestSpec.model_validate(raw)
    except ValidationError as exc:
        raise StoredRowInvalid("container_request", row_id, _problems(exc, "spec")) from None


def read_params(kind: TaskKind, raw: object, row_id: str) -> TaskParams | None:
    """The stored ``params`` JSON of a ``kind`` row as its model; raises :class:`StoredRowInvalid`."""
    if raw is None:
        return None
    model = PARAMS_OF[kind]
    if model is None:
        if raw != {}:
            raise StoredRowInvalid("tracked_task", row_id, [f"params: a {kind} task carries none"])
        return None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise StoredRowInvalid("tracked_task", row_id, _problems(exc, "params")) from None
