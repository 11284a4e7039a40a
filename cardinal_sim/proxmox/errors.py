"""The one exception the simulator's handlers raise; the app turns it into a Proxmox-shaped answer."""

from __future__ import annotations


class ApiError(Exception):
    """An API failure exactly as pve-http-server renders it.

    ``message`` keeps Proxmox's trailing newline where the real code has one; the HTTP reason phrase is its
    first line. ``errors`` is the per-parameter map of 400 answers. ``empty_body`` is for 401s and for
    proxy failures (595/596), which carry no JSON.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: dict[str, str] | None = None,
        empty_body: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.empty_body = empty_body


def die(message: str) -> ApiError:
    """A plain Perl ``die "msg\\n"``: HTTP 500 with the message."""
    return ApiError(500, message if message.endswith("\n") else message + "\n")


def param_error(errors: dict[str, str]) -> ApiError:
    """``raise_param_exc``: 400 "Parameter verification failed." with per-parameter messages."""
    return ApiError(400, "Parameter verification failed.\n", errors=errors)


def perm_error(what: str) -> ApiError:
    """``raise_perm_exc``: 403 "Permission check failed (<what>)"."""
    return ApiError(403, f"Permission check failed ({what})\n")


def auth_error(reason: str) -> ApiError:
    """A 401 with an empty body (pve-http-server never formats one as JSON)."""
    return ApiError(401, reason, empty_body=True)
