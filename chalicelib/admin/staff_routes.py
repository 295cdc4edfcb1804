"""Staff login and accounts (being built)."""
