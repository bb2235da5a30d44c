"""The flow tools of tests/handlers (the demo office, chats, the clock) for report tests."""

from tests.handlers.conftest import clock, office  # noqa: F401  (fixtures)
