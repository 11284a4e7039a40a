"""``cardinal demo``: the story played against the real Cardinal (:mod:`cardinal_sim.demo.story`) and
the renderer that prints Slack messages as a terminal transcript (:mod:`cardinal_sim.demo.transcript`)."""
