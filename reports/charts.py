"""PNG charts of the quarterly results table and of the year's trend.

matplotlib's own fonts have no Chinese glyphs, so every text is drawn with a CJK font found
on the machine (``cjk_font``), and every character is checked against that font's character
map before drawing: a chart never shows empty boxes; it raises ``MissingFontError`` instead.
Drawing uses a private Agg canvas (no pyplot, no display, no global rcParams changes).
"""

from __future__ import annotations

import io
import math
import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import matplotlib.font_manager as font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.transforms import blended_transform_factory

from reports.model import AnnualTable, QuarterTable

FONT_PACKAGE_HINT = "apt-get install fonts-noto-cjk (Debian/Ubuntu: package fonts-noto-cjk)"

# Families that cover Traditional Chinese, best first: Traditional Chinese faces, then other
# Pan-CJK faces of the same design (same coverage, regional glyph shapes), then older fonts.
KNOWN_FAMILIES = (
    "Noto Sans CJK TC",
    "Noto Sans TC",
    "Source Han Sans TC",
    "Source Han Sans TW",
    "Noto Sans CJK HK",
    "Source Han Sans HC",
    "Noto Sans CJK JP",
    "Noto Sans CJK SC",
    "Noto Sans CJK KR",
    "Source Han Sans",
    "Source Han Sans JP",
    "Source Han Sans SC",
    "Noto Serif CJK TC",
    "Noto Serif TC",
    "Source Han Serif TC",
    "AR PL UMing TW",
    "AR PL UMing HK",
    "AR PL UKai TW",
    "AR PL UMing CN",
    "AR PL UKai CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Droid Sans Fallback",
)
# File names of the same fonts, for fonts installed after matplotlib cached its font list.
KNOWN_FILE_HINTS = ("notosanscjk", "notosanstc", "sourcehansans", "notoserifcjk",
                    "notoseriftc", "sourcehanserif", "uming", "ukai", "wqy", "droidsansfallback")

# Characters every chart draws; a candidate font must have them all.
PROBE = ("經濟部水利署第十河川局年度季月提升服務品質自行考核結果統計表受單位名稱總分等第"
         "審定自評未送出優甲乙丙丁秘書室規劃工務管理資產人事主計政風員山子洪中心"
         "0123456789（）、：-")

WIDTH_PX, HEIGHT_PX, DPI = 1600, 900, 150
TITLE_UNITS = 84  # columns of a title line at 15 pt (a CJK character is two)
VERIFIED_LABEL = "審定分數"
SELF_LABEL = "自評分數"
UNSENT_LABEL = "未送出"
NO_SCORES_LABEL = "尚無成績"
QUARTER_LABELS = ("第1季", "第2季", "第3季", "第4季")
BAR_COLOR = "#2f6db5"
LABEL_BOX = {"facecolor": "white", "edgecolor": "none", "pad": 1.5, "alpha": 0.85}
SELF_FACE = "#dce8f7"
BAND_COLORS = ("#1b7f3b", "#2f6db5", "#b07a00", "#b3471d", "#7f1d1d")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">")
LINESTYLES = ("-", "--", "-.", ":")
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")


class MissingFontError(RuntimeError):
    """No installed font can draw the chart's characters (no CJK font, or a rare character)."""


@dataclass(frozen=True)
class _Face:
    """One face of an installed font file (a .ttc holds several)."""

    name: str
    path: str
    index: int


# ---------------------------------------------------------------- finding the font


@lru_cache(maxsize=32)
def _charmap(path: str, index: int) -> frozenset[int]:
    """The code points a font face maps to a glyph (read with fontTools)."""
    from fontTools.ttLib import TTFont

    with TTFont(path, fontNumber=index, lazy=True) as font:
        cmap = font.getBestCmap() or {}
    return frozenset(cmap)


def _weight_distance(weight: str | int) -> int:
    named = {"normal": 400, "regular": 400, "book": 400, "medium": 500, "light": 300}
    if isinstance(weight, int):
        return abs(weight - 400)
    return abs(named.get(str(weight).lower(), 700) - 400)


def _entries() -> list[font_manager.FontEntry]:
    """The fonts matplotlib knows (a seam for tests)."""
    return list(font_manager.fontManager.ttflist)


def _candidates(entries: Iterable[font_manager.FontEntry]) -> list[_Face]:
    """Upright faces of the known families, best family first, regular weight first."""
    by_family: dict[str, list[font_manager.FontEntry]] = {}
    for entry in entries:
        if entry.name in KNOWN_FAMILIES and entry.style == "normal":
            by_family.setdefault(entry.name, []).append(entry)
    faces: list[_Face] = []
    for family in KNOWN_FAMILIES:
        for entry in sorted(by_family.get(family, []),
                            key=lambda e: (_weight_distance(e.weight), e.fname)):
            faces.append(_Face(family, entry.fname, int(getattr(entry, "index", 0))))
    return faces


def _register_unlisted_known_files() -> bool:
    """Add known CJK font files that matplotlib's cached font list does not have yet."""
    listed = {os.path.realpath(entry.fname) for entry in font_manager.fontManager.ttflist}
    added = False
    for path in font_manager.findSystemFonts():
        base = os.path.basename(path).lower().replace("-", "").replace("_", "")
        if any(hint in base for hint in KNOWN_FILE_HINTS) \
                and os.path.realpath(path) not in listed:
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                continue
            added = True
    return added


def _covers(face: _Face, text: str) -> bool:
    try:
        charmap = _charmap(face.path, face.index)
    except Exception:  # an unreadable or odd font file is just not a candidate
        return False
    return all(ord(ch) in charmap for ch in text)


@lru_cache(maxsize=1)
def _find_face() -> _Face:
    """The best installed face that covers ``PROBE``; raises MissingFontError if none does."""
    for attempt in range(2):
        for face in _candidates(_entries()):
            if _covers(face, PROBE):
                return face
        if attempt == 0 and not _register_unlisted_known_files():
            break
    raise MissingFontError(
        "No font covering Traditional Chinese is installed, so charts cannot be drawn "
        f"(looked for: {', '.join(KNOWN_FAMILIES[:4])}, …). Install one: {FONT_PACKAGE_HINT}."
    )


def cjk_font() -> font_manager.FontProperties:
    """A FontProperties for an installed font that covers Traditional Chinese.

    Looks for known CJK families (Noto Sans CJK TC first) among the fonts matplotlib knows,
    and checks with fontTools that the face maps the characters charts always draw. Raises
    ``MissingFontError`` (saying ``apt-get install fonts-noto-cjk``) when there is none; it
    never falls back to a font that would draw empty boxes.
    """
    face = _find_face()
    return font_manager.FontProperties(fname=_font_path(face))


def cjk_face() -> tuple[str, int]:
    """The file and face index of that font, for drawing outside matplotlib (Pillow)."""
    face = _find_face()
    return face.path, face.index


def _font_path(face: _Face) -> str:
    """The path matplotlib should load: with the face index inside a .ttc where supported."""
    font_path = getattr(font_manager, "FontPath", None)  # matplotlib >= 3.11
    if font_path is not None:
        indexed: str = font_path(face.path, face.index)  # a str that keeps the face index
        return indexed
    return face.path


def require_glyphs(texts: Iterable[str]) -> None:
    """Raise MissingFontError naming every character of ``texts`` the chart font lacks."""
    face = _find_face()
    charmap = _charmap(face.path, face.index)
    missing: dict[str, None] = {}
    for text in texts:
        for ch in text:
            if not ch.isspace() and ord(ch) not in charmap:
                missing[ch] = None
    if missing:
        shown = "、".join(f"{ch!r} (U+{ord(ch):04X})" for ch in missing)
        raise MissingFontError(
            f"The chart font {face.name} ({face.path}) has no glyph for {shown}; it would "
            "draw empty boxes. Change the text, or install a font that has them "
            f"(for CJK text: {FONT_PACKAGE_HINT})."
        )


# ---------------------------------------------------------------- text helpers

# Short bracketed groups like （10-12月）, Latin/digit runs, spaces, single characters.
_TOKEN = re.compile(r"[（(][^（）()\n]{1,10}[）)]|[A-Za-z0-9.\-/%]+|\s+|.")
_NO_LINE_START = set("）)」』、，。：；！？%")
_NO_LINE_END = set("（(「『")


def _units(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _greedy_lines(tokens: Sequence[str], limit: int) -> list[str]:
    lines: list[str] = []
    line = ""
    for token in tokens:
        breakable = line and not token.isspace() and token[0] not in _NO_LINE_START
        if breakable and _units(line + token) > limit:
            carry = ""
            while line and line[-1] in _NO_LINE_END:  # an opening bracket moves down too
                carry, line = line[-1] + carry, line[:-1]
            lines.append(line.rstrip())
            line = carry + token
        else:
            line += token
    lines.append(line.rstrip())
    return [text for text in lines if text] or [""]


def wrap_text(text: str, units: int) -> str:
    """Wrap ``text`` to lines of at most ``units`` columns (a CJK character counts two).

    Lines are balanced (a long title becomes two even lines, not one full line and a
    stub); runs of Latin letters and digits (115) and short bracketed groups (（10-12月）)
    stay whole; closing punctuation never starts a line and opening brackets never end one.
    """
    if "\n" in text:
        return "\n".join(wrap_text(paragraph, units) for paragraph in text.split("\n"))
    total = _units(text)
    if total <= units:
        return text
    tokens = _TOKEN.findall(text)
    lines = _greedy_lines(tokens, units)  # the fewest lines that fit
    for limit in range(math.ceil(total / len(lines)), units):
        balanced = _greedy_lines(tokens, limit)
        if len(balanced) <= len(lines):
            return "\n".join(balanced)
    return "\n".join(lines)


def _plain(text: str) -> str:
    """Text that matplotlib must not read as mathtext."""
    return text.replace("$", r"\$")


def _sized(font: font_manager.FontProperties, size: float) -> font_manager.FontProperties:
    copy = font.copy()
    copy.set_size(size)
    return copy


def _new_figure() -> Figure:
    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


# ---------------------------------------------------------------- the charts


def quarter_chart_png(table: QuarterTable) -> bytes:
    """A 1600×900 PNG bar chart of each section's 總分 for the quarter.

    Verified totals are solid bars, a section's own totals hatched bars (legend 審定分數 /
    自評分數); a section with no total shows 未送出 and no bar. The grade bands (優 900、
    甲 800 …) are dashed lines and faint areas; the y axis runs 0..total_max. Raises
    MissingFontError when no installed font can draw every character.
    """
    return _png(quarter_figure(table))


LABELLED_SECTIONS = 40  # more sections than this: bars only, no per-bar labels


def quarter_figure(table: QuarterTable) -> Figure:
    """The figure behind ``quarter_chart_png`` (for tests and other output formats)."""
    title = wrap_text(table.title, TITLE_UNITS)
    sections = [wrap_text(row.section, 10) for row in table.rows]
    bands = [(grade, least) for grade, least in table.grade_bands
             if 0 < least <= table.total_max]
    band_labels = [f"{grade} {least}" for grade, least in bands]
    y_label = f"總分（滿分 {table.total_max} 分）"
    values = [f"{row.total}\n{row.grade}" if row.grade else f"{row.total}"
              for row in table.rows if row.total is not None]
    require_glyphs([title, *sections, *band_labels, y_label, "受考核單位", VERIFIED_LABEL,
                    SELF_LABEL, UNSENT_LABEL, *values])

    font = cjk_font()
    figure = _new_figure()
    axes = figure.add_subplot()
    top = table.total_max

    # Grade bands: a faint area from each band's least total up to the next, and a line.
    uppers = [top] + [least for _, least in bands[:-1]]
    for number, ((grade, least), upper) in enumerate(zip(bands, uppers, strict=True)):
        color = BAND_COLORS[number % len(BAND_COLORS)]
        axes.axhspan(least, upper, color=color, alpha=0.06, zorder=0, linewidth=0)
        axes.axhline(least, color=color, linestyle="--", linewidth=1.2, alpha=0.85, zorder=3)
        axes.text(1.006, least, _plain(f"{grade} {least}"), color=color, va="center",
                  ha="left", transform=blended_transform_factory(axes.transAxes,
                                                                 axes.transData),
                  fontproperties=_sized(font, 11), clip_on=False)

    positions = list(range(len(table.rows)))
    # One bar call per kind: drawing bar by bar took seconds for a thousand sections.
    for verified in (True, False):
        xs = [x for x, row in zip(positions, table.rows, strict=True)
              if row.total is not None and row.verified == verified]
        heights = [table.rows[x].total or 0 for x in xs]
        if not xs:
            continue
        if verified:
            axes.bar(xs, heights, width=0.62, color=BAR_COLOR, edgecolor=BAR_COLOR, zorder=2)
        else:
            axes.bar(xs, heights, width=0.62, color=SELF_FACE, edgecolor=BAR_COLOR,
                     hatch="///", linewidth=1.2, zorder=2)
    labelled = len(table.rows) <= LABELLED_SECTIONS  # beyond that, labels only overlap
    for x, row in zip(positions, table.rows, strict=True):
        if not labelled:
            break
        if row.total is None:
            axes.text(x, top * 0.015, _plain(UNSENT_LABEL), ha="center", va="bottom",
                      color="#666666", fontproperties=_sized(font, 11), zorder=4)
            continue
        label = f"{row.total}\n{row.grade}" if row.grade else f"{row.total}"
        inside = row.total > top * 0.9
        axes.text(x, row.total - top * 0.01 if inside else row.total + top * 0.01,
                  _plain(label), ha="center", va="top" if inside else "bottom",
                  color="white" if inside and row.verified else "#1a1a1a",
                  fontproperties=_sized(font, 10), zorder=4, linespacing=1.1,
                  bbox=None if inside and row.verified else LABEL_BOX)

    axes.set_xlim(-0.6, max(len(positions), 1) - 0.4)
    axes.set_ylim(0, top)
    if labelled:
        axes.set_xticks(positions)
        axes.set_xticklabels([_plain(s) for s in sections], fontproperties=_sized(font, 11))
    else:
        axes.set_xticks([])
    for tick in axes.get_yticklabels():
        tick.set_fontproperties(_sized(font, 10))
    axes.set_ylabel(_plain(y_label), fontproperties=_sized(font, 12))
    axes.set_xlabel("受考核單位" if labelled else f"受考核單位（{len(table.rows)} 個）",
                    fontproperties=_sized(font, 12))
    axes.set_title(_plain(title), fontproperties=_sized(font, 15), pad=12)
    axes.spines[["top", "right"]].set_visible(False)
    handles = [Patch(facecolor=BAR_COLOR, edgecolor=BAR_COLOR, label=VERIFIED_LABEL),
               Patch(facecolor=SELF_FACE, edgecolor=BAR_COLOR, hatch="///",
                     label=SELF_LABEL)]
    figure.legend(handles=handles, loc="outside lower center", ncols=2,
                  prop=_sized(font, 11), frameon=False)
    return figure


def _axis_range(values: Sequence[int], ceiling: int = 1000) -> tuple[float, float]:
    """Whole hundreds around the values, never past ``ceiling`` unless a value is."""
    low, high = min(values), max(values)
    bottom = max(0, math.floor((low - 50) / 100) * 100)
    upper = math.ceil((high + 50) / 100) * 100
    if high <= ceiling:
        upper = min(upper, ceiling)
    upper = max(upper, bottom + 100)
    return bottom, upper + (upper - bottom) * 0.02


def annual_trend_png(table: AnnualTable) -> bytes:
    """A 1600×900 PNG line chart of each section's quarter totals, 第1季…第4季.

    One line per section with a total; a quarter with no total leaves a gap; the legend names
    those sections, and the ones with no total at all are named under the chart (尚無成績：…)
    instead of drawing an empty legend entry. The grade bands (優 900 …) are drawn across the
    visible range. Raises MissingFontError when no installed font can draw every character.
    """
    return _png(annual_figure(table))


def annual_figure(table: AnnualTable) -> Figure:
    """The figure behind ``annual_trend_png`` (for tests and other output formats)."""
    title = wrap_text(table.title, TITLE_UNITS)
    scored = [row for row in table.rows if any(t is not None for t in row.quarter_totals)]
    empty = [row.section for row in table.rows if row not in scored]
    footnote = wrap_text(f"{NO_SCORES_LABEL}：{'、'.join(empty)}", 120) if empty else ""
    band_labels = [f"{grade} {least}" for grade, least in table.grade_bands]
    require_glyphs([title, *(row.section for row in scored), *QUARTER_LABELS, "總分", "季別",
                    NO_SCORES_LABEL, footnote, *band_labels])

    font = cjk_font()
    figure = _new_figure()
    axes = figure.add_subplot()
    positions = list(range(len(QUARTER_LABELS)))
    handles: list[Line2D] = []
    for number, row in enumerate(scored):
        label = row.section
        values = [math.nan if t is None else float(t) for t in row.quarter_totals]
        (line,) = axes.plot(
            positions, values, label=_plain(label), color=PALETTE[number % len(PALETTE)],
            marker=MARKERS[number % len(MARKERS)], markersize=7, linewidth=2,
            linestyle=LINESTYLES[(number // len(PALETTE)) % len(LINESTYLES)])
        handles.append(line)

    present = [t for row in table.rows for t in row.quarter_totals if t is not None]
    if present:
        low, high = _axis_range(present)
        axes.set_ylim(low, high)
        # The grade bands that the range shows: a faint line and the grade at the right.
        for number, (grade, least) in enumerate(table.grade_bands):
            if not low < least < high:
                continue
            color = BAND_COLORS[number % len(BAND_COLORS)]
            axes.axhline(least, color=color, linestyle="--", linewidth=1.0, alpha=0.7,
                         zorder=1)
            axes.text(1.006, least, _plain(f"{grade} {least}"), color=color, va="center",
                      ha="left", transform=blended_transform_factory(axes.transAxes,
                                                                     axes.transData),
                      fontproperties=_sized(font, 10), clip_on=False)
    else:
        axes.set_ylim(0, 1000)
        axes.text(0.5, 0.5, NO_SCORES_LABEL, transform=axes.transAxes, ha="center",
                  va="center", color="#666666", fontproperties=_sized(font, 16))
    axes.set_xlim(-0.3, len(positions) - 0.7)
    axes.set_xticks(positions)
    axes.set_xticklabels(list(QUARTER_LABELS), fontproperties=_sized(font, 12))
    for tick in axes.get_yticklabels():
        tick.set_fontproperties(_sized(font, 10))
    axes.set_ylabel("總分", fontproperties=_sized(font, 12))
    axes.set_xlabel("季別", fontproperties=_sized(font, 12))
    axes.set_title(_plain(title), fontproperties=_sized(font, 15), pad=12)
    axes.grid(axis="y", color="#dddddd", linewidth=0.8)
    axes.spines[["top", "right"]].set_visible(False)
    if handles:
        figure.legend(handles=handles, loc="outside right upper", prop=_sized(font, 11),
                      frameon=False)
    if footnote:
        figure.text(0.01, 0.01, _plain(footnote), color="#666666", ha="left", va="bottom",
                    fontproperties=_sized(font, 10))
    return figure
