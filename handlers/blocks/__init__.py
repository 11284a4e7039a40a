"""Block Kit builders: pure functions from plain data to Slack messages and views (plain dicts).

No I/O and no Slack client here. Every message builder returns ``{"text": fallback, "blocks": [...]}``
ready for ``chat.postMessage(**msg)`` / ``respond(**msg)``; view builders return the view dict. One room
per thing drawn; import from the room itself:

- :mod:`handlers.blocks.kit` — the shared primitives: escaping, mentions, block makers, Slack's limits.
- :mod:`handlers.blocks.ids` — callback, action and block ids shared with the listeners.
- :mod:`handlers.blocks.help` — the usage message and the generic error reply.
- :mod:`handlers.blocks.create_modal` — the create modal and reading its submission.
- :mod:`handlers.blocks.summary` — how a container request reads (shared by card and thread).
- :mod:`handlers.blocks.approval` — approval cards (create, destroy, resize) and the deny-reason modal.
- :mod:`handlers.blocks.progress` — a request's thread: root message, ready and failure results.
- :mod:`handlers.blocks.events` — :func:`~handlers.blocks.events.render_event` for every domain event.
- :mod:`handlers.blocks.containers` — list, status, quick actions, power / extend / destroy answers.
- :mod:`handlers.blocks.day2` — snapshots, rollback and resize.
- :mod:`handlers.blocks.catalog` — the templates, tasks and audit lists.
- :mod:`handlers.blocks.digest` — the scheduled digest.
- :mod:`handlers.blocks.home` — the App Home tab.
"""
