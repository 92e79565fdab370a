"""The audit dossier on paper: HTML (a self-contained page) and PDF (reportlab, with
Adobe's standard Chinese font STSong-Light, which readers supply themselves, so no font
file ships with the ledger).

Both render the same dossier document (see :mod:`ledger.reports.dossier`); neither
computes anything."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from ledger.reports.export import Lang

TEMPLATES = Path(__file__).parents[1] / "templates"

WORDS: dict[Lang, dict[str, Any]] = {
    "en": {
        "title": "Audit dossier",
        "generated": "generated",
        "verdict": "Integrity",
        "digest": "digest",
        "position": "position",
        "head_hash": "head hash",
        "signed": "signed",
        "result": "result",
        "ticket": "Ticket",
        "signature": "customer signature",
        "unsigned": "none",
        "sla": "SLA verdicts",
        "no_contract": "not judged: the ticket's contract is unknown",
        "metric": "metric",
        "target": "target",
        "status": "status",
        "due": "due",
        "done": "done",
        "breach": "breach (min)",
        "note": "note",
        "timeline": "Timeline (every event, who did it, occurred vs recorded)",
        "event": "event",
        "occurred": "occurred",
        "recorded": "recorded",
        "actor": "actor (role)",
        "details": "details",
        "hash": "event hash",
        "backdated": "back-dated by",
        "link_bad": "DOES NOT VERIFY",
        "visits": "Return visits",
        "actions": "Corrective actions",
        "complaints": "Complaints",
        "ticket_fields": [
            ("number", "number"),
            ("status", "status"),
            ("contract", "contract_id"),
            ("customer", "customer"),
            ("site", "site"),
            ("device", "device"),
            ("severity", "severity"),
            ("description", "description"),
            ("engineer", "engineer"),
            ("reported", "reported_at"),
            ("resolved", "resolved_at"),
            ("closed", "closed_at"),
            ("reopenings", "reopen_count"),
            ("events", "version"),
        ],
        "visit_columns": [
            ("number", "number"),
            ("kind", "kind"),
            ("status", "status"),
            ("conducted", "conducted_at"),
            ("score", "total"),
            ("band", "band"),
            ("audit", "audit"),
        ],
        "action_columns": [
            ("number", "number"),
            ("stage", "stage"),
            ("raised", "raised_at"),
            ("due", "due_by"),
            ("verified effective", "verified_effective"),
        ],
        "complaint_columns": [
            ("number", "number"),
            ("category", "category"),
            ("status", "status"),
            ("received", "received_at"),
        ],
    },
    "zh": {
        "title": "审计档案",
        "generated": "生成于",
        "verdict": "完整性校验",
        "digest": "摘要",
        "position": "位置",
        "head_hash": "头部哈希",
        "signed": "已签名",
        "result": "结果",
        "ticket": "工单",
        "signature": "客户签字",
        "unsigned": "无",
        "sla": "SLA 判定",
        "no_contract": "未判定：合同未知",
        "metric": "指标",
        "target": "承诺",
        "status": "状态",
        "due": "截止",
        "done": "完成",
        "breach": "超时(分钟)",
        "note": "说明",
        "timeline": "时间线（每个事件、操作人、发生时间与记录时间）",
        "event": "事件",
        "occurred": "发生时间",
        "recorded": "记录时间",
        "actor": "操作人(角色)",
        "details": "内容",
        "hash": "事件哈希",
        "backdated": "补录滞后",
        "link_bad": "校验失败",
        "visits": "回访",
        "actions": "纠正措施",
        "complaints": "投诉",
        "ticket_fields": [
            ("编号", "number"),
            ("状态", "status"),
            ("合同", "contract_id"),
            ("客户", "customer"),
            ("地点", "site"),
            ("设备", "device"),
            ("等级", "severity"),
            ("故障描述", "description"),
            ("工程师", "engineer"),
            ("报修时间", "reported_at"),
            ("修复时间", "resolved_at"),
            ("关闭时间", "closed_at"),
            ("重开次数", "reopen_count"),
            ("事件数", "version"),
        ],
        "visit_columns": [
            ("编号", "number"),
            ("类型", "kind"),
            ("状态", "status"),
            ("回访时间", "conducted_at"),
            ("得分", "total"),
            ("档次", "band"),
            ("审核", "audit"),
        ],
        "action_columns": [
            ("编号", "number"),
            ("阶段", "stage"),
            ("提出时间", "raised_at"),
            ("期限", "due_by"),
            ("验证有效", "verified_effective"),
        ],
        "complaint_columns": [
            ("编号", "number"),
            ("类别", "category"),
            ("状态", "status"),
            ("受理时间", "received_at"),
        ],
    },
}


def render_html(dossier: dict[str, Any], lang: Lang = "zh") -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    return env.get_template("dossier.html").render(d=dossier, w=WORDS[lang], zh=lang == "zh")


def _hash_lines(event_hash: str | None, ok: bool, bad: str, style: Any) -> Any:
    """A SHA-256 in hex on two lines of 32 digits (it never wraps mid-way elsewhere)."""
    from reportlab.platypus import Paragraph

    shown = "—" if event_hash is None else f"{event_hash[:32]}<br/>{event_hash[32:]}"
    return Paragraph(shown + ("" if ok else f"<br/>{bad}"), style)


def render_pdf(dossier: dict[str, Any], lang: Lang = "zh") -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    # An Adobe standard CJK font: not embedded, shown by Acrobat, browsers and poppler
    # (with poppler-data). It has no U+00B7, hence "|" as the separator here.
    font = "STSong-Light"
    pdfmetrics.registerFont(UnicodeCIDFont(font))
    w = WORDS[lang]
    text = ParagraphStyle("text", fontName=font, fontSize=8, leading=10, wordWrap="CJK")
    mono = ParagraphStyle("mono", parent=text, fontName="Courier", fontSize=6, leading=7)
    heading = ParagraphStyle("heading", parent=text, fontSize=12, leading=16, spaceBefore=8)
    title = ParagraphStyle("title", parent=text, fontSize=16, leading=20)

    def para(value: Any, style: ParagraphStyle = text) -> Paragraph:
        shown = "—" if value is None or value == "" else str(value)
        return Paragraph(shown.replace("&", "&amp;").replace("<", "&lt;"), style)

    def grid(header: list[str], rows: list[list[Any]], widths: list[float] | None = None) -> Table:
        cells = [[para(h) for h in header]] + [
            [c if isinstance(c, Paragraph) else para(c) for c in row] for row in rows
        ]
        table = Table(cells, colWidths=widths, repeatRows=1)
        table.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        return table

    ticket = dossier["ticket"]
    integrity = dossier["integrity"]
    story: list[Any] = [
        para(f"{w['title']} | {ticket['number']}", title),
        para(f"{w['generated']} {dossier['generated_at']} | {dossier['database']}"),
        para(w["verdict"], heading),
        para(integrity["summary"]),
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
                        g["signed"],
                        g["message"],
                    ]
                    for g in integrity["digests"]
                ],
            )
        )
    signature = ticket["signature"]
    story += [
        para(w["ticket"], heading),
        grid(
            ["", ""],
            [[label, ticket[key]] for label, key in w["ticket_fields"]]
            + [
                [
                    w["signature"],
                    " | ".join(str(v) for v in signature.values()) if signature else w["unsigned"],
                ]
            ],
            [40 * mm, 200 * mm],
        ),
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
                        s["metric"],
                        s["target"],
                        s["status"],
                        s["due_at"],
                        s["done_at"],
                        s["breach_minutes"],
                        s["note"],
                    ]
                    for s in dossier["sla"]
                ],
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
                    e["type"],
                    e["occurred_at"]
                    + (f" ({w['backdated']} {e['lag_minutes']} min)" if e["backdated"] else ""),
                    e["recorded_at"],
                    f"{e['actor']} ({e['role']})",
                    "; ".join(f"{k}: {v}" for k, v in e["data"].items()),
                    _hash_lines(e["event_hash"], e["link_ok"], w["link_bad"], mono),
                ]
                for e in dossier["timeline"]
            ],
            [8 * mm, 12 * mm, 30 * mm, 32 * mm, 32 * mm, 30 * mm, 75 * mm, 50 * mm],
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
                grid([c[0] for c in w[columns]], [[r[c[1]] for c in w[columns]] for r in rows])
            )
        else:
            story.append(para("—"))
        story.append(Spacer(1, 4))
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
    document.build(story)
    return buffer.getvalue()
