"""Cardinal's stand-ins for the outside world, shipped with the product for tests, ``cardinal demo`` and
``cardinal sandbox``: the Proxmox VE simulator (:mod:`cardinal_sim.proxmox`), the local Slack stand-in
(:mod:`cardinal_sim.slack`) and the offline demo with its transcript renderer (:mod:`cardinal_sim.demo`).

The product (``bot/``, ``handlers/``) never imports this package at run time; only the ``demo`` and
``sandbox`` commands of :mod:`bot.cli` load it, lazily. It may import the product, never the reverse.
"""
