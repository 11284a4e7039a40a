"""Local fakes of the outside world (Slack, …) served as real aiohttp apps in tests."""
