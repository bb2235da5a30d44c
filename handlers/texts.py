"""The words sqbot says (zh-TW, in the seed's own terms). Flows pick; this module words."""

from __future__ import annotations

from datetime import datetime

from rubric import Period
from rubric.periods import TAIPEI, format_roc_date
from storage.errors import InvitationProblem
from storage.models import AssessmentStatus, Proposal, ProposalStatus, Role

ROLE_LABELS = {
    Role.STAFF: "承辦人",
    Role.SECTION_HEAD: "課室主管",
    Role.SECRETARIAT: "秘書室",
    Role.ADMIN: "管理者",
}
STATUS_LABELS = {
    AssessmentStatus.DRAFT: "填寫中",
    AssessmentStatus.SUBMITTED: "已送出",
    AssessmentStatus.RETURNED: "已退回",
    AssessmentStatus.VERIFIED: "已審定",
}

PROPOSAL_STATUS_LABELS = {
    ProposalStatus.DRAFT: "草稿",
    ProposalStatus.SUBMITTED: "待決定",
    ProposalStatus.MORE_INFO: "待補件",
    ProposalStatus.ADOPTED: "採用",
    ProposalStatus.REJECTED: "不採用",
    ProposalStatus.IMPLEMENTED: "已實施",
}

# Menu and navigation labels (also accepted when typed).
FILL = "填寫自評"
MY_PROGRESS = "我的進度"
OVERVIEW = "各課室進度"
PROPOSE = "創意提案"
PROPOSALS = "提案清單"
TABLE = "總表"
FORM = "評分表"
HELP = "說明"
MENU = "選單"
BACK = "上一題"
SKIP = "略過"
NEXT = "下一題"
REVIEW = "檢視"
PAUSE = "暫停"
SUBMIT = "送出"
CONFIRM = "確認送出"
CANCEL = "取消"
RESCORE = "重新評分"
CONTINUE = "繼續填寫"
ZERO = "0分（未辦理）"
CARRY = "沿用上季"
# The annual report's cases (年度案例) and the secretariat's draft (年度報告).
CASES = "年度案例"
CASE_LIST = "本課室案例"
CASE_HEADINGS = "選擇項目"
CASE_ANOTHER = "再新增一{unit}"
REPORT = "年度報告"
REPORT_REBUILD = "再產生報告"
BAND_BACK = "返回級距"

WELCOME_STRANGER = (
    "您好，我是服務品質小幫手，協助各課室填寫「提升服務品質自行考核」。\n"
    "請輸入秘書室提供的邀請碼（例如 ABCDE-FGHJK）完成帳號綁定。"
)
INVITATION_REFUSED = {
    InvitationProblem.UNKNOWN: (
        "查無此邀請碼，請確認後再輸入。邀請碼是 10 個英文字母與數字（例如 ABCDE-FGHJK），"
        "不分大小寫，可含空格或連字號。"
    ),
    InvitationProblem.USED: "這組邀請碼已經使用過了（每組限用一次），請向秘書室索取新的邀請碼。",
    InvitationProblem.EXPIRED: "這組邀請碼已過期，請向秘書室索取新的邀請碼。",
    InvitationProblem.REVOKED: "這組邀請碼已停用，請向秘書室索取新的邀請碼。",
}
TOO_MANY_CODES = (
    "輸入錯誤的邀請碼次數過多，為保護帳號安全，請於 {minutes} 分鐘後再試；"
    "如不確定邀請碼，請向秘書室確認。"
)
NOT_IN_GROUP = ("自評、創意提案與年度案例請在與小幫手的私人對話中填寫；"
                "秘書室群組只提供秘書室的功能（各課室進度、審定、總表、年度、提案清單）。")
STALE_BUTTON = "這個按鈕已經過期（對話已往下進行），請使用最新訊息中的按鈕。"
UNKNOWN_BUTTON = "無法辨識這個按鈕，請使用最新訊息中的按鈕。"
NOT_YOUR_SECTION = "這份自評不屬於您的課室，無法操作。"
LOCKED = "本季自評已送出，無法再修改；如需修改，請洽秘書室退回。"
NO_SUCH_QUESTION = "查無此題。"
NO_SECTION = "您的帳號沒有所屬課室，無法填寫自評。如有疑問請洽秘書室。"
NOT_ALLOWED = "您的角色無法使用這項功能。"
ERROR = "抱歉，系統處理您的訊息時發生錯誤，這則訊息沒有被處理。請稍後再試一次。"
AFTER_COMMIT_FAILED = "您的操作已儲存，但產生檔案時發生錯誤，請稍後再試一次。"
EVIDENCE_FIRST_SCORE = "請先為本題評分，再傳送佐證資料。"
EVIDENCE_STORE_FAILED = (
    "佐證檔案暫時無法儲存（系統儲存空間異常），已通知秘書室。"
    "您的分數與文字說明都已保存，請稍後再傳一次檔案。"
)
GROUP_BOUND = "本群組已綁定為「{agency}」秘書室群組：自評送出、進度與提案通知將傳送到這裡。"
GROUP_CODE_REFUSED = ("無法以這組邀請碼綁定群組。群組只能以尚未使用、未過期的秘書室邀請碼綁定"
                      "（/bind 邀請碼），請向管理者確認。")
GROUP_ALREADY_BOUND = "本群組已經綁定為秘書室群組了。"
GROUP_JOINED = (
    "大家好，我是服務品質小幫手。請秘書室同仁在本群組輸入「{bind} 邀請碼」"
    "（使用秘書室邀請碼）完成綁定；綁定後，各課室的自評送出、進度與提案通知會傳到這裡。"
)
PRIVACY_MODE_ON = "本群組的 Telegram 隱私模式開啟中"
GROUP_LEFT_NOTICE = (
    "【通知】機器人已被移出{channel}秘書室群組，群組綁定已解除。"
    "請重新邀請機器人加入群組，並以秘書室邀請碼再次綁定。"
)
WELCOME_BACK = "歡迎回來！"

# The proposal (創意提案) conversation, in the words of 附錄1.
PROPOSAL_NEXT = "下一項"
PROPOSAL_BACK = "上一項"
PROPOSAL_KEEP = "保留原內容"
PROPOSAL_DONE = "完成"
PROPOSAL_REVIEW = "檢視提案"
PROPOSAL_SUBMIT = "送出提案"
PROPOSAL_EDIT = "修改內容"
PROPOSAL_NEW = "新提案"
PROPOSAL_MORE_INFO_BUTTON = "補充提案"
ADOPT = "採用"
REJECT = "不採用"
IMPLEMENTED = "已實施"
ASK_MORE = "請補件"
NOT_YOUR_PROPOSAL = "這份提案不是您提出的，無法操作。"
PROPOSAL_LOCKED = "這份提案已送出，秘書室決定前無法修改；若秘書室請您補件，即可再修改。"
PROPOSAL_INTRO = (
    "【創意提案】依「附錄1 創意服務計畫」格式逐項填寫，共 10 項：創意服務名稱、創新服務類型、"
    "壹、專案總說明（背景與問題描述、採用解決方法、實際效益）、貳、創新服務實際績效（外部效益、"
    "內部效益）、參、創新服務解決手法（流程整合、資通訊服務導入）、肆、附件。\n"
    "每一項都可以先「略過」之後再補；草稿會保存，隨時輸入「創意提案」繼續。\n"
    "也可以一次貼上整份提案（用附錄1的標題分段），我會自動分欄，只問缺少的部分。"
)
PROPOSAL_PROMPTS = {
    "title": "請輸入創意服務名稱（100 字以內，例如：河川公地使用申請線上預審）。",
    "kind": "請選擇創新服務類型（自行考核「提出有價值之創新服務」的 8 種樣態），"
            "按下方按鈕或輸入編號：",
    "background": "壹、專案總說明　一、個案背景與問題描述\n"
                  "〔詳述個案所欲處理的具體問題，解決該項問題對民眾或其他利害相關者的意義所在"
                  "及解決問題的行政過程或機制等〕",
    "solution": "壹、專案總說明　二、採用解決方法\n〔說明採取何種解決方法〕",
    "benefits": "壹、專案總說明　三、實際效益\n〔說明專案執行實際績效〕",
    "external_benefits": "貳、創新服務實際績效　外部效益（民眾、企業或其他機關得到的效益）\n"
                         "〔內容宜具體，儘量以量化數據表達〕例如：申辦時間由 14 天縮短為 5 天、"
                         "每年服務 1,200 人次、滿意度 92%。",
    "internal_benefits": "貳、創新服務實際績效　內部效益（本局作業得到的效益）\n"
                         "〔內容宜具體，儘量以量化數據表達〕例如：每件減少人工 2 小時、"
                         "每年減少紙本 3,000 張。",
    "process_integration": "參、創新服務解決手法　流程整合\n"
                           "〔敘明如何透過流程整合提供便民服務〕例如跨機關水平整合、"
                           "跨機關垂直整合、同機關水平整合。",
    "ict_adoption": "參、創新服務解決手法　資通訊服務導入\n"
                    "〔敘明如何導入資通訊服務〕例如線上服務系統、行政資訊系統、"
                    "主動通知服務、雲端應用服務、智慧辦公。",
    "evidence_note": "肆、附件\n〔提供佐證資料，如相關民意調查、統計資料等，並以精簡方式呈現〕\n"
                     "請傳送照片或檔案，或輸入網址或服務地址：有網站或資料庫者請提供網址，"
                     "有特殊服務設施或服務地點者請提供地址，供考核人員查核。可傳多次，"
                     f"完成後按「{PROPOSAL_DONE}」。",
}
PROPOSAL_NEEDS_NUMBERS = (
    "內容沒有看到數字。附錄1要求「內容宜具體，儘量以量化數據表達」，"
    "可以再輸入一段數據（會接在原文後面），或按「{next}」繼續。"
)


def roc_datetime(moment: datetime) -> str:
    """``115年11月27日 09:41`` in Taipei time."""
    local = moment.astimezone(TAIPEI)
    return f"{format_roc_date(local.date())} {local:%H:%M}"


def help_text(is_secretariat: bool) -> str:
    """The help message: what can be typed."""
    lines = [
        "【服務品質小幫手 使用說明】",
        "每季由各課室依「自行考核項目及評分表」逐題自評（共 25 題，滿分 1000 分）。",
        "每題可選擇級距再選分數，或直接輸入分數（例如 85、８５、85分）；未辦理請填 0 分。",
        "評分後可傳送文字說明、照片或檔案作為佐證，可傳多次。",
        "",
        "可輸入的指令：",
        f"　{FILL}　開始或繼續本季自評",
        f"　{MY_PROGRESS}　查看本課室進度",
        f"　{BACK}（/back）　回到上一題",
        f"　{SKIP}（/skip）　先跳過這題",
        "　跳到 N（/goto N）　跳到第 N 題，例如：跳到 5、跳到 2.4",
        f"　{REVIEW}（/review）　檢視各項小計、未答題目與填答人",
        f"　{PAUSE}（/pause）　暫停，答案都會保留，隨時可繼續",
        f"　{SUBMIT}（/submit）　全部作答後送出",
        f"　{MENU}（/menu）　回到選單",
        f"　{CANCEL}（/cancel）　取消目前步驟",
        f"　{PROPOSE}（/propose）　依附錄1格式提出創意服務提案，或繼續草稿",
        f"　{PROPOSALS}（/proposals）　查看我的提案與秘書室的決定",
        f"　{CASES}（/cases）　提供本課室年度績效總報告的個案事例與檢討（每年12月）",
        f"　{FORM} [115年第3季]（/form）　下載本課室該季的自行考核項目及評分表（ODT、DOCX）",
    ]
    if is_secretariat:
        lines += ["", "秘書室（在這裡或秘書室群組）："]
        for word, command, args, does in DESK_COMMANDS:
            lines.append(f"　{word}{args}（{command}）　{does}")
        lines.append("　審定時：確認、輸入分數與理由（例如：15 缺少佐證）、標記退回、"
                     "上一題／下一題、跳到 N、完成審定、退回課室")
        lines.append(f"　{PROPOSALS} [115] [待決定] [課室] [類型]　"
                     "依年度、狀態、課室、類型列出全局提案")
    return "\n".join(lines)


#: The desk's words in the secretariat's group: (word, command, arguments, what it does);
#: typed as ``word + arguments`` or ``command + arguments``.
DESK_COMMANDS = (
    ("進度", "/progress", "", "各課室本季填寫進度與尚未開始的課室"),
    ("審定", "/verify", " 課室名稱", "逐題審定送出的自評，例如：審定 工務課"),
    (TABLE, "/table", " [115年第4季]", "考核結果總表（摘要、圖表、ODS 與 XLSX）"),
    ("處理情形", "/followup", " [115年第4季] 內容", "總表上的考核結果處理情形"),
    ("年度", "/annual", " [115]", "年度成績、排名與三項獎勵"),
    (PROPOSALS, "/proposals", " [115] [待決定]", "全局創意提案"),
    ("電話測試", "/phonetest", " 課室 受測人員 分數", "記錄電話禮貌測試"),
    (REPORT, "/report", " [115]", "年度提升服務品質績效總報告（ODT、DOCX）"),
    (FORM, "/form", " 課室 [115年第4季]",
     "某課室的自行考核項目及評分表（ODT、DOCX；未開始者為空白表）"),
)


def group_joined(command_suffix: str | None) -> str:
    """The greeting when the bot is added to a group not yet bound."""
    if command_suffix is None:
        return GROUP_JOINED.format(bind="綁定")
    return (GROUP_JOINED.format(bind=f"/bind{command_suffix}")
            + f"（{PRIVACY_MODE_ON}，小幫手只收得到指令，請照上面的格式輸入。）")


def commands_only_hint(command_suffix: str) -> str:
    """What a group must type when typed words do not reach the bot."""
    return (f"{PRIVACY_MODE_ON}，小幫手只收得到指令、按鈕與回覆小幫手的訊息："
            f"請使用下方按鈕，或輸入 /progress{command_suffix}、"
            f"/verify{command_suffix} 課室名稱、/table{command_suffix}；"
            f"按「{HELP}」查看全部指令。")


def desk_help(command_suffix: str | None) -> str:
    """說明 in the secretariat's group: the desk's words (or, under Telegram's privacy mode,
    the commands that reach the bot there)."""
    lines = ["【服務品質小幫手 秘書室群組說明】",
             "各課室的自評送出、進度與提案通知會傳到本群組；秘書室同仁可使用下方按鈕，或輸入：",
             ""]
    for word, command, args, does in DESK_COMMANDS:
        if command_suffix is None:
            lines.append(f"　{word}{args}（{command}{args}）　{does}")
        else:
            lines.append(f"　{command}{command_suffix}{args}　{does}")
    if command_suffix is not None:
        lines += ["", f"{PRIVACY_MODE_ON}，一般文字傳不到小幫手：審定時請按按鈕；"
                  "要輸入審定分數或理由，請「回覆」小幫手的那則訊息。",
                  "（管理者可在 @BotFather 以 /setprivacy 關閉隱私模式，即可直接輸入中文指令。）"]
    lines += ["", "自評、創意提案與年度案例請在與小幫手的私人對話中填寫。"]
    return "\n".join(lines)


def proposal_citation(proposal: Proposal) -> str:
    """``115-P-0003「河川公地線上預審」（已實施：https://…）`` for evidence and hints."""
    status = PROPOSAL_STATUS_LABELS.get(ProposalStatus(proposal.status), proposal.status)
    where = f"：{proposal.decision_note}" if proposal.status == ProposalStatus.IMPLEMENTED \
        and proposal.decision_note else ""
    return f"{proposal.reference}「{proposal.title or '（未命名）'}」（{status}{where}）"


def period_heading(section_name: str, period: Period, status: str) -> str:
    """``規劃課 115年第4季 自評（填寫中）``."""
    label = STATUS_LABELS.get(AssessmentStatus(status), status)
    return f"{section_name} {period.label} 自評（{label}）"


def quote(text: str) -> str:
    """A typed text as quoted back: one line, at most 20 characters."""
    text = text.strip().replace("\n", " ")
    return text if len(text) <= 20 else text[:20] + "…"
