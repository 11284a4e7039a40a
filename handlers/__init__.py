"""The Slack edge: parse, call a bot service, render."""
