"""Which messages an event owes under the rules in force, and their words (Chinese).

A message is addressed to a channel and a target: a group robot's group (the channel
itself, with the people @-mentioned), each person's address on an e-mail channel, or a
webhook endpoint. Its id is ``uuid5(event id : channel : target)``: the same event always
makes the same ids, so receivers can drop a repeated delivery.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import tzinfo
from fnmatch import fnmatchcase
from typing import Any
from uuid import uuid5

from ledger.domain.metrics import METRIC_WORDS_ZH
from ledger.domain.model import DomainEvent
from ledger.domain.notification import ChannelKind, RuleSet
from ledger.domain.numbering import NAMESPACE
from ledger.domain.sla import target_zh
from ledger.domain.sweep import LEVEL_NAMES_ZH
from ledger.domain.ticket import (
    AtRiskWarned,
    Escalated,
    InspectionNoticeIssued,
    MetricOverdueNoted,
    RectificationNoticeIssued,
    ReplacementFlagged,
    Ticket,
)
from ledger.domain.values import EscalationLevel
from ledger.timeutil import show

SEVERITY_ZH = {"emergency": "紧急", "critical": "重大", "major": "较大", "general": "一般"}


@dataclass
class Message:
    message_id: str
    channel: str
    kind: ChannelKind
    target: str
    title: str
    text: str
    mentions: list[str] = field(default_factory=list)
    """Mobile numbers the robots @-mention."""
    people: list[str] = field(default_factory=list)

    def payload(self, cloud_event: dict[str, Any]) -> str:
        return json.dumps(
            {
                "title": self.title,
                "text": self.text,
                "mentions": self.mentions,
                "people": self.people,
                "cloudevent": cloud_event,
            },
            ensure_ascii=False,
        )


def message_id(event_id: str, channel: str, target: str) -> str:
    return str(uuid5(NAMESPACE, f"notify:{event_id}:{channel}:{target}"))


def route(
    rules: RuleSet,
    event: DomainEvent,
    event_type: str,
    event_id: str,
    ticket: Ticket | None,
    tz: tzinfo,
) -> list[Message]:
    """The messages ``event`` owes (none when no rule matches), one per channel and
    target, whatever number of rules asked for it."""
    level = event.to_level if isinstance(event, Escalated) else None
    found: dict[str, Message] = {}
    for rule in rules.rules:
        if not any(fnmatchcase(event_type, pattern) for pattern in rule.events):
            continue
        if rule.contracts and (ticket is None or ticket.contract_id not in rule.contracts):
            continue
        if rule.severities and (ticket is None or ticket.severity not in rule.severities):
            continue
        if rule.levels and level not in rule.levels:
            continue
        if (
            isinstance(event, AtRiskWarned)
            and rule.at_risk is not None
            and event.at_percent != rule.at_risk
        ):
            continue
        people = rules.people_named(rule.notify, level)
        title, text = words(event, event_type, ticket, rules.base_url, tz, people)
        for channel in rule.channels:
            spec = rules.channels[channel]
            if spec.kind is ChannelKind.EMAIL:
                targets = [(p, e) for p in people if (e := rules.people[p].email)]
            else:
                targets = [("", channel)]
            for person, target in targets:
                mid = message_id(event_id, channel, target)
                message = found.setdefault(
                    mid, Message(mid, channel, spec.kind, target, title, text)
                )
                chosen = [person] if person else people
                for name in chosen:
                    if name not in message.people:
                        message.people.append(name)
                    mobile = rules.people[name].mobile if name in rules.people else None
                    if mobile and mobile not in message.mentions:
                        message.mentions.append(mobile)
    return list(found.values())


def ticket_link(base_url: str | None, ticket: Ticket | None) -> str | None:
    if base_url is None or ticket is None:
        return None
    return f"{base_url.rstrip('/')}/dashboard/tickets/{ticket.number}"


def words(
    event: DomainEvent,
    event_type: str,
    ticket: Ticket | None,
    base_url: str | None,
    tz: tzinfo,
    people: list[str],
) -> tuple[str, str]:
    """A message's title and Markdown body: the ticket number, the customer, what is late
    and by how much, who is asked to act and a link to the ticket's page."""
    number = ticket.number if ticket else ""
    headline, details = _what(event, event_type, tz)
    title = f"【{headline}】{number}".strip()
    lines = [f"### {title}"]
    if ticket is not None:
        lines += [
            f"- 服务单：{ticket.number}",
            f"- 客户：{ticket.customer}（{ticket.site}）",
            f"- 设备：{ticket.device}，级别：{SEVERITY_ZH.get(ticket.severity.value, '')}",
        ]
    lines += [f"- {line}" for line in details]
    lines.append(f"- 时间：{show(event.occurred_at, tz, 'minutes')}")
    if people:
        lines.append(f"- 请处理：{'、'.join(people)}")
    link = ticket_link(base_url, ticket)
    if link:
        lines.append(f"- [查看服务单]({link})")
    return title, "\n".join(lines)


def _what(event: DomainEvent, event_type: str, tz: tzinfo) -> tuple[str, list[str]]:
    if isinstance(event, Escalated):
        return f"升级至{_level(event.to_level)}", [f"原因：{event.reason}"]
    if isinstance(event, AtRiskWarned):
        metric = METRIC_WORDS_ZH.get(event.metric, event.metric)
        return f"临近超时·{metric}", [
            f"{metric}时限（{target_zh(event.target)}）已用 {event.used_percent}%，"
            f"剩余 {_minutes(event.left_minutes)}",
            f"应于 {show(event.due_at, tz, 'minutes')} 前完成",
        ]
    if isinstance(event, MetricOverdueNoted):
        metric = METRIC_WORDS_ZH.get(event.metric, event.metric)
        return f"逾期·{metric}", [
            f"{metric}时限（{target_zh(event.target)}）"
            f"已于 {show(event.due_at, tz, 'minutes')} 到期，尚未完成"
        ]
    if isinstance(event, ReplacementFlagged):
        return "应提供备用设备", [
            f"未在 {target_zh(event.target)} 内修复，已于 {show(event.due_at, tz, 'minutes')} 超时"
        ]
    if isinstance(event, InspectionNoticeIssued):
        return "检查单", [f"报修后 {target_zh(event.threshold)}仍未关闭"]
    if isinstance(event, RectificationNoticeIssued):
        return "整改通知单", [f"报修后 {target_zh(event.threshold)}仍未关闭"]
    return "服务单动态", [f"事件：{event_type}", f"记录人：{event.actor}"]


def _level(level: EscalationLevel) -> str:
    return LEVEL_NAMES_ZH.get(level, level.value)


def _minutes(total: int) -> str:
    if total < 60:
        return f"{total} 分钟"
    hours, minutes = divmod(total, 60)
    return f"{hours} 小时 {minutes} 分钟" if minutes else f"{hours} 小时"
