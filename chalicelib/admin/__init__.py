"""admin feature: the merchant console routes (staff only)."""
