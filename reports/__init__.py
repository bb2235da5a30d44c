"""sqbot reports package."""
