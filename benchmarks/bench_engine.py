"""Answers per second through ``dispatch`` alone, on SQLite and on PostgreSQL, beside the
machine's raw one-row INSERT + COMMIT rate on each (the physical limit) and sqbot's share.

1,000 staff of 50 sections each open their assessment, then answer questions in turn
(typed scores, as people do); every answer is one committed transaction.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.common import database, dispatcher, populate, raw_commits_per_s, write
from handlers.messages import Incoming
from rubric import load_year

STAFF = 1000
ANSWERS = 1500
BATCH = 50  # events per LINE webhook body, handled in one transaction (dispatch_many)


def run_backend(backend: str) -> dict[str, float]:
    """Answers/s on one backend."""
    rubric = load_year(105)
    with database(backend) as db, tempfile.TemporaryDirectory() as folder:
        users = populate(db, STAFF)
        engine = dispatcher(db, Path(folder))
        events = 0

        def send(user: str, text: str) -> None:
            nonlocal events
            events += 1
            engine.dispatch(Incoming(channel="console", user_id=user, chat_id=user,
                                     event_id=f"e{events}", text=text))

        for user in users:
            send(user, "填寫自評")
        codes = [q.code for q in rubric.questions]
        start = time.perf_counter()
        for n in range(ANSWERS):
            # A staff member answers the question in front of them; the score moves on.
            user = users[n % STAFF]
            question = rubric.question(codes[(n // STAFF) % len(codes)])
            send(user, str(question.max // 2))
        elapsed = time.perf_counter() - start
        # The same answers as LINE bodies of BATCH events each: one transaction per body.
        batched_start = time.perf_counter()
        for first in range(0, ANSWERS, BATCH):
            batch = []
            for n in range(first, min(first + BATCH, ANSWERS)):
                events += 1
                user = users[n % STAFF]
                question = rubric.question(codes[(ANSWERS + n) // STAFF % len(codes)])
                batch.append(Incoming(channel="console", user_id=user, chat_id=user,
                                      event_id=f"e{events}", text=str(question.max // 2)))
            engine.dispatch_many(batch)
        batched = time.perf_counter() - batched_start
    rate = ANSWERS / elapsed
    raw = raw_commits_per_s(backend)  # the machine's limit, measured now beside sqbot's rate
    return {"answers": ANSWERS, "events": ANSWERS, "seconds": round(elapsed, 2),
            "answers_per_s": round(rate, 1), "events_per_s": round(rate, 1),
            "raw_commits_per_s": raw, "share_of_raw": round(rate / raw, 4),
            "batched_answers_per_s": round(ANSWERS / batched, 1), "batch": BATCH}


def main() -> None:
    """Run on both databases and write benchmarks/results/engine.json."""
    sqlite = run_backend("sqlite")
    postgres = run_backend("postgresql")
    write("engine", {"sqlite": sqlite, "postgresql": postgres},
          targets={"sqlite_answers_per_s": 2000, "postgresql_answers_per_s": 800})


if __name__ == "__main__":
    main()
