"""The golden transcript of 年度案例: a section offers cases for the annual report and a
檢討 point in December, and lists them — on both databases.

After an intended wording change, regenerate with ``pytest --regen-golden`` and read the diff.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from tests.handlers.test_transcripts import check_golden, run_script

DECEMBER = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)  # 115年12月2日 09:00
SCRIPT = [
    "年度案例",
    "#1",  # 一、提升服務品質，深化服務績效
    "全員完成電話禮貌訓練並每季抽測",
    "抽測平均由82分提升至91分",
    "#1",  # another case under the same heading
    "洽公櫃台增設引導標示",
    "略過",  # no figures for this one
    "年度案例",
    "#6",  # 貳、檢討
    "部分課室量化數據蒐集不易，建議建立季報表",
    "本課室案例",
    "選單",
]


def test_report_cases_transcript(office, request, tmp_path):
    office.clock.set(DECEMBER)
    chat = office.chat("王小明")
    transcript = run_script(office, chat.user_id, SCRIPT, tmp=tmp_path,
                            events=itertools.count(1))
    check_golden(request, "report_cases.txt", transcript)
    assert "抽測平均由82分提升至91分" in transcript
