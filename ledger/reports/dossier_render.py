"""The audit dossier on paper: HTML (a self-contained page) and PDF (reportlab).

Both render the same dossier document (see :mod:`ledger.reports.dossier`); neither
computes anything. Every value is shown as a person reads it, in the document's language
(:class:`~ledger.reports.dossier_words.Shown`, with the dossier's words).

The PDF embeds (a subset of) a TrueType CJK font, WenQuanYi Micro Hei from Debian's
``fonts-wqy-microhei`` (reportlab embeds TrueType outlines only, not the CFF ones of Noto
CJK); ``LEDGER_PDF_FONT`` names another TrueType file or collection. Without the font
the PDF is refused (:class:`FontMissing`), never drawn with blank Chinese.
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from ledger.reports.dossier_words import WORDS, Shown, minute, pdf_date
from ledger.reports.export import Lang

TEMPLATES = Path(__file__).parents[1] / "templates"
FONT_ENV = "LEDGER_PDF_FONT"
FONT_FILE = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
FONT_PACKAGE = "fonts-wqy-microhei"
"""The Debian package that ships :data:`FONT_FILE` (.ci/run installs it)."""


class FontMissing(Exception):
    """The PDF's CJK font cannot be read."""


def render_html(dossier: dict[str, Any], lang: Lang = "zh") -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    return env.get_template("dossier.html").render(
        d=dossier, w=WORDS[lang], s=Shown(lang), zh=lang == "zh"
    )


def _hash_lines(event_hash: str | None, ok: bool, bad: str, style: Any) -> Any:
    """A SHA-256 in hex on two lines of 32 digits (it never wraps mid-way elsewhere)."""
    from reportlab.platypus import Paragraph

    shown = "—" if event_hash is None else f"{event_hash[:32]}<br/>{event_hash[32:]}"
    return Paragraph(shown + ("" if ok else f"<br/>{bad}"), style)


def font_file() -> Path:
    """The CJK font the PDF embeds: ``LEDGER_PDF_FONT``, else Debian's WenQuanYi Micro Hei."""
    named = os.environ.get(FONT_ENV, "").strip()
    return Path(named) if named else FONT_FILE


def register_fonts() -> tuple[str, str]:
    """Register the CJK font (and, in a collection, its monospaced face) with reportlab;
    their names. Raises :class:`FontMissing` when the file cannot be read as TrueType."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    path = font_file()
    hint = f"install Debian's {FONT_PACKAGE} or set {FONT_ENV} to a TrueType CJK font"
    if not path.is_file():
        raise FontMissing(f"the PDF's Chinese font {path} is missing: {hint}")
    names = ("DossierSans", "DossierMono")
    try:
        sans = TTFont(names[0], str(path), subfontIndex=0)
        if not all(ord(c) in sans.face.charToGlyph for c in "审计档案"):
            raise FontMissing(f"the font {path} has no Chinese characters: {hint}")
        pdfmetrics.registerFont(sans)
        try:  # WenQuanYi's collection has a monospaced face second, for the hashes
            pdfmetrics.registerFont(TTFont(names[1], str(path), subfontIndex=1))
        except (TTFError, IndexError):
            return names[0], names[0]
    except (TTFError, OSError) as e:
        raise FontMissing(f"the PDF's Chinese font {path} cannot be used ({e}): {hint}") from None
    return names


def _evidence_flowables(
    files: list[dict[str, Any]],
    w: dict[str, Any],
    s: Shown,
    grid: Any,
    para: Any,
    when: Any,
    mono: Any,
) -> list[Any]:
    """The evidence section: each picture drawn (scaled into 60 × 45 mm), then every file
    with its kind, name, size, SHA-256, who attached it and when, and its check."""
    from reportlab.lib.units import mm
    from reportlab.lib.utils import ImageReader
    from reportlab.platypus import Image, Table

    if not files:
        return [para("—")]
    pictures = []
    for f in files:
        if not f.get("image"):
            continue
        data = base64.b64decode(f["image"].split(",", 1)[1])
        width, height = ImageReader(io.BytesIO(data)).getSize()
        scale = min(60 * mm / width, 45 * mm / height)
        pictures.append(
            [
                Image(io.BytesIO(data), width * scale, height * scale),
                para(f"{f['kind']} · {f['file_name']}"),
            ]
        )
    flowables: list[Any] = []
    if pictures:
        flowables.append(Table([[cell for pair in pictures for cell in pair]], hAlign="LEFT"))
    rows = [
        [
            f["kind"],
            f["file_name"],
            f["media_type"],
            f["size"],
            para(f["sha256"], mono),
            f"{f['attached_by']} ({s.word('role:' + f['role'])})",
            when(f["attached_at"]),
            w["file:" + f["state"]],
        ]
        for f in files
    ]
    flowables.append(grid(list(w["evidence_columns"]), rows))
    return flowables


def render_pdf(dossier: dict[str, Any], lang: Lang = "zh") -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font, mono_font = register_fonts()
    w, s = WORDS[lang], Shown(lang)
    text = ParagraphStyle("text", fontName=font, fontSize=8, leading=10, wordWrap="CJK")
    whole = ParagraphStyle("whole", parent=text, wordWrap=None, splitLongWords=0)
    mono = ParagraphStyle("mono", parent=text, fontName=mono_font, fontSize=6, leading=7)
    heading = ParagraphStyle(
        "heading", parent=text, fontSize=12, leading=16, spaceBefore=8, keepWithNext=1
    )
    title = ParagraphStyle("title", parent=text, fontSize=16, leading=20)

    def escape(value: str) -> str:
        return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    def para(value: Any, style: ParagraphStyle = text) -> Paragraph:
        shown = "—" if value is None or value == "" else str(value)
        return Paragraph(escape(shown), style)

    def lines(values: list[str], style: ParagraphStyle = text) -> Paragraph:
        return Paragraph("<br/>".join(escape(v) for v in values) or "—", style)

    def when(value: str | None, note: str = "") -> Paragraph:
        """A time on one line (its date and time joined by a no-break space), never split."""
        shown = minute(value).replace(" ", "\u00a0") or "—"
        return Paragraph(shown + (f"<br/>{escape(note)}" if note else ""), whole)

    def grid(header: list[str], rows: list[list[Any]], widths: list[float] | None = None) -> Table:
        cells = [[para(h) for h in header]] + [
            [c if isinstance(c, Paragraph) else para(c) for c in row] for row in rows
        ]
        table = Table(cells, colWidths=widths, repeatRows=1, hAlign="LEFT")
        table.setStyle(
            TableStyle(
                [
                    ("FONTNAME", (0, 0), (-1, -1), font),
                    ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        return table

    ticket = dossier["ticket"]
    integrity = dossier["integrity"]
    database = dossier.get("database")
    story: list[Any] = [
        para(f"{w['title']} · {ticket['number']}", title),
        para(
            " · ".join(
                p for p in (f"{w['generated']} {minute(dossier['generated_at'])}", database) if p
            )
        ),
        para(w["verdict"], heading),
        para(s.summary(integrity, dossier["timeline"])),
    ]
    if integrity["digests"]:
        story.append(
            grid(
                [w["digest"], w["position"], w["head_hash"], w["signed"], w["result"]],
                [
                    [
                        g["file"],
                        g["position"],
                        para(g["head_hash"], mono),
                        s.value(g["signed"]),
                        s.digest_result(g),
                    ]
                    for g in integrity["digests"]
                ],
            )
        )
    story += [
        para(w["ticket"], heading),
        grid(
            [w["field"], w["value"]],
            [
                [
                    label,
                    when(ticket[key]) if key.endswith("_at") else s.ticket_value(key, ticket[key]),
                ]
                for label, key in w["ticket_fields"]
            ]
            + [[w["signature"], s.signature(ticket["signature"])]],
            [40 * mm, 200 * mm],
        ),
        para(w["evidence"], heading),
        *_evidence_flowables(dossier.get("evidence") or [], w, s, grid, para, when, mono),
        para(w["sla"], heading),
    ]
    if dossier["sla"] is None:
        story.append(para(w["no_contract"]))
    else:
        story.append(
            grid(
                [
                    w["metric"],
                    w["target"],
                    w["status"],
                    w["due"],
                    w["done"],
                    w["breach"],
                    w["note"],
                ],
                [
                    [
                        s.word(j["metric"]),
                        s.target(j["target"]),
                        s.status(j["status"]),
                        when(j["due_at"]),
                        when(j["done_at"]),
                        s.value(j["breach_minutes"]),
                        s.note(j["note"]),
                    ]
                    for j in dossier["sla"]
                ],
                [30 * mm, 30 * mm, 30 * mm, 32 * mm, 32 * mm, 25 * mm, 68 * mm],
            )
        )
    story += [
        para(w["timeline"], heading),
        grid(
            [
                "#",
                w["position"],
                w["event"],
                w["occurred"],
                w["recorded"],
                w["actor"],
                w["details"],
                w["hash"],
            ],
            [
                [
                    e["version"],
                    e["position"],
                    s.event(e["type"]),
                    when(
                        e["occurred_at"],
                        f"{w['backdated']} {s.value(e['lag_minutes'])} {w['min']}"
                        if e["backdated"]
                        else "",
                    ),
                    when(e["recorded_at"]),
                    f"{e['actor']} ({s.word('role:' + e['role'])})",
                    lines(s.details(e["data"])),
                    _hash_lines(e["event_hash"], e["link_ok"], w["link_bad"], mono),
                ]
                for e in dossier["timeline"]
            ],
            [8 * mm, 17 * mm, 28 * mm, 32 * mm, 28 * mm, 36 * mm, 70 * mm, 48 * mm],
        ),
    ]
    for key, columns in (
        ("visits", "visit_columns"),
        ("actions", "action_columns"),
        ("complaints", "complaint_columns"),
    ):
        story.append(para(w[key], heading))
        rows = dossier[key]
        if rows:
            story.append(
                grid(
                    [c[0] for c in w[columns]],
                    [[s.row_value(key, c[1], r.get(c[1])) for c in w[columns]] for r in rows],
                )
            )
        else:
            story.append(para("—"))
        story.append(Spacer(1, 4))

    created = pdf_date(dossier["generated_at"])

    class DatedCanvas(Canvas):  # type: ignore[misc]
        """A canvas whose document is dated when the dossier was made (the injected clock),
        not when the bytes were written: the same dossier still gives the same bytes."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **(kwargs | {"initialFontName": font}))  # no Helvetica
            self.setDateFormatter(lambda *_: created)

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4),
        leftMargin=10 * mm,
        rightMargin=10 * mm,
        topMargin=10 * mm,
        bottomMargin=10 * mm,
        title=f"{w['title']} {ticket['number']}",
        invariant=1,  # the same dossier gives the same bytes
    )
    document.build(story, canvasmaker=DatedCanvas)
    return buffer.getvalue()
