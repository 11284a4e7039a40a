"""``cardinal check``: verify the configuration end to end and say how to fix what is wrong.

Each check yields a :class:`bot.ops.check.result.CheckResult`. Gathering (network calls) and judging
(pure ``evaluate_*`` functions over typed answers) are kept apart so the judgements can be tested on
plain data. Order (:func:`bot.ops.check.run.run_checks`): settings → Slack (``auth.test`` + scopes) →
Proxmox transport (reachable, TLS, clock) → Proxmox API (credentials, version ≥ 8.1, privileges from
``/access/permissions``, template storage, bridges, the datacenter's tag options from
``/cluster/options``). One module per thing checked: :mod:`.config` (settings, policy, database),
:mod:`.slack`, :mod:`.transport`, :mod:`.cluster` (version, privileges, nodes, storages, templates,
bridges), :mod:`.tags`.
"""
