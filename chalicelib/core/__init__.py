"""What every feature shares: configuration, errors, auth, money, ids, clock, HTTP and tables."""
