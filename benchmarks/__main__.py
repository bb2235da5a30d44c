"""Run every benchmark and write ``benchmarks/results/<name>.json`` (``make bench``).

``python -m benchmarks [name ...]`` runs some of them: rubric, engine, documents, telegram
(with the fan-out), channels (the LINE webhook, with memory), uploads (three 100 MB files
at once). See docs/performance.md.
"""

from __future__ import annotations

import json
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from rubric import load_rubric, score_card
from rubric.loader import load_year

RESULTS = Path(__file__).resolve().parent / "results"


def _timed(action: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times


def bench_rubric() -> dict[str, object]:
    """Parse+validate the 105 file; score 10,000 random complete answer sets."""
    path = Path(__file__).resolve().parents[1] / "rubric" / "data" / "105.yaml"
    load_times = _timed(lambda: load_rubric(path), 20)
    rubric = load_year(105)
    rng = random.Random(105)
    answer_sets = [{q.code: rng.randint(0, q.max) for q in rubric.questions}
                   for _ in range(10_000)]
    start = time.perf_counter()
    for answers in answer_sets:
        score_card(rubric, answers)
    scoring = time.perf_counter() - start
    return {
        "load_and_validate_ms_median": round(statistics.median(load_times) * 1000, 2),
        "score_cards_per_s": round(len(answer_sets) / scoring),
    }


def main() -> None:
    from benchmarks import (
        bench_channels,
        bench_documents,
        bench_engine,
        bench_telegram,
        bench_uploads,
    )

    chosen = sys.argv[1:] or ["rubric", "engine", "documents", "telegram", "channels",
                              "uploads"]
    others = {"engine": bench_engine.main, "documents": bench_documents.main,
              "telegram": bench_telegram.main, "channels": bench_channels.main,
              "uploads": bench_uploads.main}
    if "rubric" in chosen:
        rubric_main()
    for name in chosen:
        if name in others:
            others[name]()


def rubric_main() -> None:
    RESULTS.mkdir(exist_ok=True)
    machine = {"python": sys.version.split()[0], "platform": platform.platform(),
               "processor": platform.machine(),
               "versions": {p: metadata.version(p) for p in ("pydantic", "PyYAML")}}
    for name, bench in {"rubric": bench_rubric}.items():
        figures = bench()
        (RESULTS / f"{name}.json").write_text(
            json.dumps({"name": name, "figures": figures, "machine": machine},
                       ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"{name}: {figures}")


if __name__ == "__main__":
    main()
