"""The task tracker and provisioning: every pending Proxmox task and queued creation lives in the ledger,
is followed to its end by periodic sweeps on any replica, and ends in exactly one message.

Entry points: :class:`Tracker` (``sweep``, ``enqueue_creations``, ``track``, ``shutdown``),
:class:`Scheduler` (APScheduler timers), :func:`run_once_per_slot` (leader-only periodic jobs).
"""

from bot.tracker.backoff import Backoff
from bot.tracker.results import final_key, ui_link
from bot.tracker.scheduler import SWEEP_JOB_ID, Scheduler
from bot.tracker.slots import run_once_per_slot
from bot.tracker.tracker import CreationItem, SweepReport, Tracker, default_owner

__all__ = [
    "SWEEP_JOB_ID",
    "Backoff",
    "CreationItem",
    "Scheduler",
    "SweepReport",
    "Tracker",
    "default_owner",
    "final_key",
    "run_once_per_slot",
    "ui_link",
]
