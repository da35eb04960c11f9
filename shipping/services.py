"""Business writes of this app (arrive with its issue)."""
