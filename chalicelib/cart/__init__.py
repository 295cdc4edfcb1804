"""cart feature."""
