"""sqbot bot package."""
