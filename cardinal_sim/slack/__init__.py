"""A local Slack stand-in: the Web API server (:mod:`cardinal_sim.slack.standin`) and the signed
request payloads Slack would send to Cardinal (:mod:`cardinal_sim.slack.payloads`)."""
