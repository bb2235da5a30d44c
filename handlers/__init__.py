"""sqbot handlers package."""
