"""The audit dossier's words and values, as a person reads them, in zh or en: its labels
(:data:`WORDS`), its own terms for event names, event fields and their values
(:data:`TERMS`, falling back to the words of the reports and the dashboard), and
:class:`Shown`, which turns each value of the dossier document into text (times in the
user's zone to the minute, nothing for an unset value, an event's fields as "label: value"
lines). Both renderings (:mod:`ledger.reports.dossier_render`: HTML and PDF) show these.

Over 500 lines: two languages' tables of the same words, side by side so that a word added
to one is seen missing from the other."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.dashboard.words import WORDS as KNOWN_WORDS
from ledger.domain.privacy import ERASED, ERASED_EN
from ledger.reports import actions, complaints, satisfaction, sla
from ledger.reports.export import Lang

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
        "field": "field",
        "value": "value",
        "links": "{ok} of {n} events verify against their chain links",
        "failing": "failing: version {versions}",
        "digests held": "{ok} of {n} digests hold",
        "not walked": "whole chain not re-walked here: run `ledger verify` for that",
        "walked": "whole log verified: {events} events",
        "walk failed": "whole log FAILS: {problem}",
        "digest ok": "the log extends this digest",
        "digest unsigned": "the log extends this digest (unsigned)",
        "yes": "yes",
        "no": "no",
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
        "min": "min",
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
        "evidence": "Evidence files",
        "evidence_columns": [
            "kind",
            "file",
            "media type",
            "bytes",
            "SHA-256",
            "attached by",
            "when",
            "file check",
        ],
        "evidence_links": "{ok} of {n} evidence files re-hash to their recorded SHA-256",
        "evidence_unchecked": "evidence files not re-hashed (no evidence store given)",
        "file:ok": "unchanged",
        "file:missing": "MISSING",
        "file:erased": "erased (personal data)",
        "file:changed": "CHANGED",
        "file:unchecked": "not checked",
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
        "field": "项目",
        "value": "内容",
        "links": "{n} 个事件中 {ok} 个与哈希链一致",
        "failing": "不一致的版本：{versions}",
        "digests held": "{n} 个摘要中 {ok} 个成立",
        "not walked": "此处未重新校验整条哈希链（请运行 `ledger verify`）",
        "walked": "整个日志校验通过：{events} 个事件",
        "walk failed": "整个日志校验失败（详见 `ledger verify`）",
        "digest ok": "日志延续此摘要",
        "digest unsigned": "日志延续此摘要（未签名）",
        "digest bad": "日志与此摘要不符（详见 `ledger verify`）",
        "yes": "是",
        "no": "否",
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
        "min": "分钟",
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
        "evidence": "证据文件",
        "evidence_columns": [
            "类型",
            "文件",
            "媒体类型",
            "字节",
            "SHA-256",
            "附件人",
            "时间",
            "文件校验",
        ],
        "evidence_links": "{n} 个证据文件中 {ok} 个与记录的 SHA-256 一致",
        "evidence_unchecked": "证据文件未校验（未给出证据存储）",
        "file:ok": "未改动",
        "file:missing": "缺失",
        "file:erased": "已删除（个人信息）",
        "file:changed": "已改动",
        "file:unchecked": "未校验",
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


TERMS: dict[Lang, dict[str, str]] = {
    "en": {
        "field:contact.name": "contact",
        "field:contact.phone": "phone",
        "field:contract_id": "contract",
        "field:external_ref": "external ref",
        "field:from_level": "from",
        "field:to_level": "to",
        "field:previous_severity": "severity before",
        "field:previous_category": "category before",
        "field:due_at": "due",
        "field:at_percent": "warned at (%)",
        "field:used_percent": "time used (%)",
        "field:left_minutes": "minutes left",
        "kind:customer": "signed by the customer",
        "kind:manager_approved": "approved by the department manager",
        "kind:fax_copy": "faxed copy of the signed form",
        "field:media_type": "media type",
        "field:file_name": "file",
        "kind:signed-form": "signed service form",
    },
    "zh": {
        # event names (DOMAIN.md's words)
        "event:Reported": "报修",
        "event:Responded": "响应",
        "event:Dispatched": "派工",
        "event:Arrived": "到达现场",
        "event:Resolved": "修复",
        "event:CustomerSigned": "客户签字确认",
        "event:EvidenceAttached": "附证据文件",
        "event:Escalated": "升级",
        "event:Suspended": "暂停计时",
        "event:Resumed": "恢复计时",
        "event:ReplacementProvided": "提供备用设备",
        "event:Reclassified": "重新定级",
        "event:Closed": "关闭",
        "event:Reopened": "重新打开",
        "event:Cancelled": "取消",
        "event:InspectionNoticeIssued": "发出检查单",
        "event:RectificationNoticeIssued": "发出整改通知单",
        "event:ReplacementFlagged": "应提供备用设备",
        "event:AtRiskWarned": "临近超时预警",
        "event:MetricOverdueNoted": "逾期记录",
        # the events' fields
        "field:number": "编号",
        "field:contract_id": "合同",
        "field:customer": "客户",
        "field:contact.name": "联系人",
        "field:contact.phone": "联系电话",
        "field:site": "地点",
        "field:device": "设备",
        "field:category": "类别",
        "field:severity": "严重程度",
        "field:description": "故障描述",
        "field:channel": "报修渠道",
        "field:external_ref": "外部编号",
        "field:note": "备注",
        "field:engineer": "工程师",
        "field:summary": "处理结果",
        "field:mode": "方式",
        "field:kind": "签字方式",
        "field:signer": "签字人",
        "field:from_level": "原级别",
        "field:to_level": "升至",
        "field:reason": "原因",
        "field:unit": "备用设备",
        "field:previous_severity": "原严重程度",
        "field:previous_category": "原类别",
        "field:cause": "起因",
        "field:threshold": "时限",
        "field:target": "时限",
        "field:due_at": "应完成",
        "field:metric": "指标",
        "field:at_percent": "预警点（%）",
        "field:used_percent": "已用时限（%）",
        "field:left_minutes": "剩余（分钟）",
        # their values
        "category:consultation": "咨询类",
        "category:defect": "系统缺陷类",
        "channel:phone": "电话",
        "channel:email": "邮件",
        "channel:wechat": "微信",
        "channel:on-site": "现场",
        "channel:web": "网页",
        "channel:fax": "传真",
        "channel:other": "其他",
        "mode:remote": "远程",
        "mode:on-site": "现场",
        "kind:customer": "客户本人签字",
        "kind:manager_approved": "部门经理批准",
        "kind:fax_copy": "签字单传真件",
        "field:size": "字节数",
        "field:media_type": "媒体类型",
        "field:file_name": "文件名",
        "kind:signed-form": "签字服务单",
        "kind:signature": "签名",
        "kind:photo": "照片",
        "kind:fax": "传真件",
        "kind:report": "报告",
        "kind:other": "其他",
        "visit:scheduled": "已安排",
        "visit:conducted": "已回访",
        "visit:cancelled": "已取消",
        "audit:passed": "审核通过",
        "audit:failed": "审核未通过",
        # the SLA judge's notes
        "resolved late without a replacement unit": "修复超时且未提供备用设备",
        "resolved before anyone arrived": "到场前已修复",
        "resolved before a replacement unit was due": "备用设备到期前已修复",
        "ticket cancelled": "工单已取消",
        # targets
        "same-day": "当天",
    },
}
"""The dossier's own words: event names, event fields and their values (English falls
back to the key, ``_`` read as a space). Its event names are not
:data:`ledger.reports.common.EVENT_WORDS`: a timeline entry is named by a noun (报修,
"Customer signed") where those say what happened (已报修, "customer signed")."""

VALUE_KINDS = {
    "severity": "",
    "previous_severity": "",
    "from_level": "",
    "to_level": "",
    "category": "category:",
    "previous_category": "category:",
    "channel": "channel:",
    "mode": "mode:",
    "kind": "kind:",
}
"""Event fields whose values are words, and the prefix of their keys."""
KNOWN = (KNOWN_WORDS, sla.WORDS, satisfaction.WORDS, actions.WORDS, complaints.WORDS)
"""The word tables the dossier reuses, first found first (the dashboard's holds the
reports' Chinese, but not their English)."""
PREFIXED = re.compile(r"^[a-z]+:\S")
"""A key of one kind of word (``event:``, ``field:``, ``role:``, ...): its English
fallback is the part after the colon."""
TIMED = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?$")
COUNTED = re.compile(r"^(\d+) (day|workday)s?$")


def say(key: str, lang: Lang) -> str:
    """``key`` in ``lang``: the dossier's own words, else the reports' and dashboard's,
    else (English) the key itself with ``_`` read as a space."""
    for table in (TERMS[lang], *(words.own.get(lang, {}) for words in KNOWN)):
        found = table.get(key)
        if found:
            return found
    plain = key.split(":", 1)[-1] if PREFIXED.match(key) else key
    if key.startswith("event:"):  # CustomerSigned → Customer signed
        plain = re.sub(r"(?<!^)([A-Z])", lambda m: " " + m[1].lower(), plain)
    return KNOWN_WORDS(key, lang, plain.replace("_", " "))


def minute(text: str | None) -> str:
    """An ISO time (already in the user's zone) to the minute: ``2026-10-08 09:30``."""
    if not text:
        return ""
    return datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M")


def pdf_date(text: str) -> str:
    """An ISO time as a PDF date: ``D:20261008093000+08'00'``."""
    when = datetime.fromisoformat(text)
    offset = when.strftime("%z") or "+0000"
    return when.strftime("D:%Y%m%d%H%M%S") + f"{offset[:3]}'{offset[3:]}'"


@dataclass(frozen=True)
class Shown:
    """The dossier's values as text a person reads, in one language."""

    lang: Lang

    def word(self, key: str) -> str:
        return say(key, self.lang)

    def label(self, key: str) -> str:
        return str(WORDS[self.lang][key])

    def value(self, value: Any) -> str:
        """A plain value: nothing for unset, yes / no, a time to the minute, else text."""
        if value is None or value == "":
            return ""
        if isinstance(value, bool):
            return self.label("yes" if value else "no")
        if isinstance(value, str) and TIMED.match(value):
            return minute(value)
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        if value == ERASED and self.lang == "en":
            return ERASED_EN
        return str(value)

    def target(self, text: str | None) -> str:
        """``30m`` / ``2h`` / ``1 day`` / ``2 workdays`` / ``same-day`` in the language."""
        if not text or self.lang == "en":
            return text or ""
        duration = DURATION.match(text)
        if duration and any(duration.groups()):
            hours, minutes = duration.groups()
            return (f"{hours}小时" if hours else "") + (f"{minutes}分钟" if minutes else "")
        counted = COUNTED.match(text)
        if counted:
            unit = "天" if counted[2] == "day" else "个工作日"
            return f"{counted[1]}{unit}"
        return self.word(text)

    def event(self, name: str) -> str:
        return self.word(f"event:{name}")

    def status(self, status: str) -> str:
        return self.word(status)

    def note(self, note: str | None) -> str:
        return self.word(note) if note else ""

    def field(self, key: str, value: Any) -> str:
        """An event field's value as read."""
        if key in VALUE_KINDS and isinstance(value, str):
            return self.word(VALUE_KINDS[key] + value)
        if key in ("threshold", "target") and isinstance(value, str):
            return self.target(value)
        return self.value(value)

    def details(self, data: dict[str, Any]) -> list[str]:
        """An event's fields as ``label: value`` lines (unset ones left out, a nested
        record's fields each on its own line)."""
        colon = "：" if self.lang == "zh" else ": "
        lines = []
        for key, value in data.items():
            nested = value.items() if isinstance(value, dict) else [("", value)]
            for inner, item in nested:
                name = f"{key}.{inner}" if inner else key
                shown = self.field(key if not inner else name, item)
                if shown:
                    lines.append(f"{self.word('field:' + name)}{colon}{shown}")
        return lines

    def signature(self, signature: dict[str, Any] | None) -> str:
        if not signature:
            return self.label("unsigned")
        kind = self.word(f"kind:{signature['kind']}")
        signer = self.value(signature["signer"])
        return " · ".join(p for p in (kind, signer, minute(signature["signed_at"])) if p)

    def ticket_value(self, key: str, value: Any) -> str:
        if key in ("status", "severity") and value:
            return self.word(str(value))
        return self.value(value)

    def row_value(self, section: str, key: str, value: Any) -> str:
        """A visit's, action's or complaint's value."""
        if value is None or value == "":
            return ""
        if section == "visits" and key == "kind":
            return self.word(f"kind {value}")
        if section == "visits" and key in ("status", "audit"):
            return self.word(f"{'visit' if key == 'status' else 'audit'}:{value}")
        if section == "actions" and key == "stage":
            return self.word(f"stage {value}")
        if section == "complaints" and key == "status":
            return complaints._status(str(value), self.lang)
        if section == "complaints" and key == "category":
            return complaints.WORDS(str(value), self.lang, str(value).replace("_", " "))
        if key == "band":
            return self.word(str(value))
        return self.value(value)

    def summary(self, integrity: dict[str, Any], timeline: list[dict[str, Any]]) -> str:
        """What the integrity checks found, in the language (from the checks' results)."""
        bad = integrity["failing_versions"]
        parts = [self.label("links").format(ok=len(timeline) - len(bad), n=len(timeline))]
        if bad:
            parts[0] += f" ({self.label('failing').format(versions=', '.join(map(str, bad)))})"
        digests = integrity["digests"]
        if digests:
            held = sum(1 for d in digests if d["ok"])
            parts.append(self.label("digests held").format(ok=held, n=len(digests)))
        whole = integrity["whole_log"]
        if whole is None:
            parts.append(self.label("not walked"))
        elif whole["ok"]:
            parts.append(self.label("walked").format(events=whole["events"]))
        else:
            problem = whole["problems"][0]["message"] if whole["problems"] else ""
            parts.append(self.label("walk failed").format(problem=problem))
        files = integrity.get("evidence")
        if files is not None:
            key = "evidence_links" if files["checked"] else "evidence_unchecked"
            parts.append(self.label(key).format(ok=files["ok_count"], n=files["count"]))
        return ("；" if self.lang == "zh" else "; ").join(parts)

    def digest_result(self, digest: dict[str, Any]) -> str:
        if digest["ok"]:
            return self.label("digest ok" if digest["signed"] else "digest unsigned")
        return str(WORDS[self.lang].get("digest bad", digest["message"]))
