"""The golden transcript of a proposal (創意提案): written, paused, continued after a restart,
submitted, decided by the secretariat, and a second one pasted whole — on both databases.

After an intended wording change, regenerate with ``pytest --regen-golden`` and read the diff.
"""

from __future__ import annotations

import itertools

from tests.handlers.test_transcripts import check_golden, run_script

PROPOSER = [
    "創意提案",
    "河川公地申請線上預審",
    "#4",  # 服務方法創新
    "民眾申請河川公地使用須親自到局臨櫃，資料不齊常需往返多次。",
    "略過",  # 採用解決方法, for later
    "上一項",
    "建置線上預審系統，民眾上網填寫並上傳圖說，承辦人線上回覆補正事項。",
    "申辦更便利，案件多能一次補正完成。",
    "民眾免再往返",  # no numbers: asked for some
    "平均申辦時間由 14 天縮短為 5 天，每年約 300 件。",
    "每件減少承辦人工 2 小時，每年減少紙本 3,000 張。",
    "略過",  # 流程整合
    "導入線上申辦系統，並以簡訊主動通知補正結果。",
    "https://www.wra10.gov.tw/apply",
    "/file {TMP}/預審系統畫面.png",
    "完成",
    "暫停",
    "--- restart ---",
    "創意提案",
    "#1",
    "同機關水平整合：管理課與規劃課共用案件資料，免再重複收件。",
    "#1",  # 送出提案
]
SECRETARY = ["提案清單", "#1", "#1", "#1", "下週上線", "https://www.wra10.gov.tw/apply"]
PROPOSER_LATER = ["提案清單"]
PASTER = [
    "\n".join([
        "經濟部水利署第十河川局河川巡守志工行動通報",
        "壹、專案總說明",
        "一、個案背景與問題描述",
        "〔詳述個案所欲處理的具體問題〕",
        "河川巡守志工發現違規時須回局填寫紙本通報。",
        "二、採用解決方法：以行動裝置拍照即時通報。",
        "三、實際效益。",
        "通報當日即可派員處理。",
        "貳、創新服務實際績效",
        "(一)外部效益:通報處理時間由 3 天縮短為半天。",
        "（二）內部效益：紙本通報每年減少 600 張。",
        "參、創新服務解決手法",
        "資通訊服務導入：行動通報 App 與雲端案件系統。",
    ]),
    "7",  # 在地化特色服務
    "略過",  # 流程整合
    "略過",  # 附件
    "送出",
]


def test_proposal_transcript(office, request, tmp_path):
    (tmp_path / "預審系統畫面.png").write_bytes(b"\x89PNG demo screenshot")
    proposer, secretary, paster = (office.chat(name) for name in ("王小明", "陳秘書", "林課長"))
    parts = []
    for title, chat, script, first in (("王小明", proposer, PROPOSER, 1),
                                       ("陳秘書", secretary, SECRETARY, 1),
                                       ("王小明", proposer, PROPOSER_LATER, 100),
                                       ("林課長", paster, PASTER, 1)):
        lines = [line.replace("{TMP}", str(tmp_path)) for line in script]
        transcript = run_script(office, chat.user_id, lines, tmp=tmp_path,
                                events=itertools.count(first))
        parts.append(f"=== {title} ===\n\n{transcript}")
    transcript = "\n".join(parts)
    check_golden(request, "proposal.txt", transcript)
    assert "提案編號：115-P-0001" in transcript and "提案編號：115-P-0002" in transcript
    assert "經秘書室確認：已實施" in transcript
