"""Container requests: validated specs and the parameters they turn into."""
