"""Stage serving: publish a checked refresh for SQL consumers, and its dashboard."""
