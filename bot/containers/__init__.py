"""Containers: request specs and the parameters they turn into (`spec`), and the day-2 operations on
containers Cardinal manages (`service`, one module per concern)."""
