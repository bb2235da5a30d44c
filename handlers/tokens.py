"""Action tokens: what a button sends back, short and checked on every use.

A token is ``<step>:<verb>[:<arg>…]``. ``step`` is the conversation's step counter when the
button was drawn: a press from an older message is stale. Tokens carry ids, not rights —
the flow checks every id against the member's role and section before acting.
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers.messages import MAX_ACTION_BYTES


class TokenError(ValueError):
    """A token that cannot be parsed (forged or from another version)."""


@dataclass(frozen=True)
class Token:
    """A parsed action token."""

    step: int
    verb: str
    args: tuple[str, ...] = ()

    def encode(self) -> str:
        """The token as sent to the platform (at most 64 bytes)."""
        text = ":".join([str(self.step), self.verb, *self.args])
        if len(text.encode("utf-8")) > MAX_ACTION_BYTES:
            raise TokenError(f"token too long: {text!r}")
        return text

    def arg(self, index: int) -> str:
        """Argument ``index``; TokenError if missing."""
        if index >= len(self.args):
            raise TokenError(f"token {self.verb!r} lacks argument {index}")
        return self.args[index]

    def int_arg(self, index: int) -> int:
        """Argument ``index`` as an int; TokenError if it is not one."""
        value = self.arg(index)
        if not value.isdigit() or len(value) > 9:
            raise TokenError(f"argument {index} of {self.verb!r} is not a number")
        return int(value)


def parse_token(text: str) -> Token:
    """Parse a token; TokenError if it is not one of ours."""
    if not text or len(text.encode("utf-8")) > MAX_ACTION_BYTES:
        raise TokenError("empty or oversized token")
    parts = text.split(":")
    if len(parts) < 2 or not parts[0].isdigit() or len(parts[0]) > 9 or not parts[1]:
        raise TokenError(f"not a token: {text!r}")
    if not all(part.isascii() and part.replace(".", "").replace("-", "").isalnum()
               for part in parts[1:]):
        raise TokenError(f"unexpected characters in token: {text!r}")
    return Token(int(parts[0]), parts[1], tuple(parts[2:]))
