"""sqbot storage package."""
