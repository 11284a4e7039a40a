"""``cardinal demo``: the story played against the real Cardinal (:mod:`cardinal_sim.demo.story`), the
terminal and conversation it prints (:mod:`cardinal_sim.demo.console`), and the renderer that prints
Slack messages as a terminal transcript (:mod:`cardinal_sim.demo.transcript`)."""
