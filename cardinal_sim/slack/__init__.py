"""A local Slack stand-in: the Web API server (:mod:`cardinal_sim.slack.standin`), what it records
(:mod:`cardinal_sim.slack.records`), the Block Kit rules it enforces (:mod:`cardinal_sim.slack.blockkit`)
and the signed request payloads Slack would send to Cardinal (:mod:`cardinal_sim.slack.payloads`)."""
