"""Callback ids, action ids and block ids: the contract between the builders and the listeners.

Buttons carry only ids in their values (a vmid, an approval record's id), never a decision or a right;
the listeners authorise the clicker at click time.
"""

from __future__ import annotations

from bot.expiry import EXTEND_ACTION_ID

CALLBACK_CREATE = "lxc_create"
ACTION_CREATE_MORE = "lxc_create_more"  # the create modal's "More options" button, value "open"
CALLBACK_DENY_REASON = "lxc_deny_reason"
ACTION_APPROVE = "approval_approve"
ACTION_DENY = "approval_deny"
APPROVAL_ACTIONS_BLOCK = "approval_actions"
VALUE = "value"  # the action_id of every input element in Cardinal's modals

ACTION_EXTEND = EXTEND_ACTION_ID  # "lxc_extend", value "<vmid>:<duration>" (reminders and status)
ACTION_POWER = "lxc_power"  # buttons are "lxc_power.<action>" (unique per block), value "<vmid>:<action>"
ACTION_DESTROY_CONFIRM = "lxc_destroy_confirm"  # value "<vmid>"
ACTION_DESTROY_APPROVE = "lxc_destroy_approve"  # value: the approval record's id
ACTION_DESTROY_DENY = "lxc_destroy_deny"  # value: the approval record's id
CONTAINER_ACTIONS_BLOCK = "container_actions"
DESTROY_CONFIRM_BLOCK = "destroy_confirm"
DESTROY_APPROVAL_BLOCK = "destroy_approval_actions"
ACTION_ROLLBACK_CONFIRM = "lxc_rollback_confirm"  # value "<vmid>:<snapshot name>"
ACTION_RESIZE_APPROVE = "lxc_resize_approve"  # value: the approval record's id
ACTION_RESIZE_DENY = "lxc_resize_deny"  # value: the approval record's id
ROLLBACK_CONFIRM_BLOCK = "rollback_confirm"
ACTION_DOWNLOAD = "lxc_download"  # value: the template's file name (``/lxc templates``, approvers)
RESIZE_APPROVAL_BLOCK = "resize_approval_actions"
