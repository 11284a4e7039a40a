"""Names and texts of a container request's messages: the outbox keys of its thread root and approval card,
the reason recorded when the policy approves it, and the note when its thread moves to a direct message."""

from __future__ import annotations

AUTO_APPROVED = "auto-approved by policy"
"""The decision reason of a request the policy approved without asking anyone."""


def root_key(request_id: str) -> str:
    """The outbox key of a request's thread root message."""
    return f"request:{request_id}:root"


def card_key(approval_id: str) -> str:
    """The outbox key of an approval's card."""
    return f"approval:{approval_id}:card"


def moved_text(channel: str, reason: str) -> str:
    """Why a request's thread is in the requester's DM instead of the channel it was asked in."""
    if reason == "is_archived":
        why = f"<#{channel}> is archived"
    elif reason == "not_in_channel":
        why = f"Cardinal is not a member of <#{channel}>"
    else:
        why = (
            "Cardinal cannot post in the conversation you asked from (a private channel or a direct message)"
        )
    return (
        f"{why}, so this request's updates come here instead. It goes on as usual. To follow requests "
        "in a channel next time, invite Cardinal there first: `/invite @Cardinal`."
    )
