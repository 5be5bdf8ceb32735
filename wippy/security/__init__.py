"""Security: actors, policies and scopes (S9)."""
