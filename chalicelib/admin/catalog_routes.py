"""Catalog console: categories, products, SKUs, stock (being built)."""
