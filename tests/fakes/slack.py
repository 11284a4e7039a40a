"""The fake Slack Web API ships with Cardinal as the demo's local Slack stand-in
(:mod:`cardinal_sim.slack.standin`); re-exported here so tests keep importing it from
``tests.fakes.slack``."""

from cardinal_sim.slack.records import Activity, Call
from cardinal_sim.slack.standin import DEFAULT_SCOPES, JSON_FIELDS, FakeSlack

__all__ = ["DEFAULT_SCOPES", "JSON_FIELDS", "Activity", "Call", "FakeSlack"]
