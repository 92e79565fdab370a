"""The workbench's words, Chinese by default, English on request. Each page's keys are in a
section of its own (append a section; do not reorder another's); a key missing here falls
back to the dashboard's words (roles, statuses, event names)."""

from __future__ import annotations

from ledger.dashboard.words import word as dashboard_word
from ledger.reports.common import Words
from ledger.reports.export import Lang

_EN: dict[str, str] = {
    # ---------------------------------------------------------------- skeleton (desk)
    "workbench": "Workbench",
    "home": "Home",
    "nav:intake": "Intake",
    "nav:queues": "Queues",
    "nav:search": "Search",
    "nav:dashboard": "Dashboard",
    "welcome": "Signed in as {name} ({role}).",
    "may open": "Your pages",
    "not recorded": "Not recorded.",
    "recorded": "Recorded: {number}",
    "field error": "Check the fields marked below.",
    "err:required": "Required.",
    "err:empty": "Must not be empty.",
    "err:too long": "At most {n} characters.",
    "err:too short": "At least {n} characters.",
    "err:phone": "Digits, spaces and + ( ) - only (3 to 40).",
    "err:choice": "Choose one of the options.",
    "err:time": "Not a time; e.g. 2026-10-08 09:00.",
    "err:unknown": "Not a field of this form.",
    "err:invalid": "Not valid.",
    "err:forbidden": "Your role may not do this.",
    "err:not found": "No such record.",
    "err:conflict": "Someone changed it meanwhile; reload and try again.",
    "err:rule": "The ledger's rules refuse it:",
    "err:bad input": "The input cannot be read.",
    # ---------------------------------------------------------------- the phone (field)
    "nav:phone": "My tickets",
    "phone:mine": "My tickets",
    "phone:none": "No open tickets.",
    "phone:step:respond": "Respond",
    "phone:step:set_off": "On my way",
    "phone:step:arrive": "Arrived",
    "phone:step:resume": "Resume",
    "phone:step:suspend": "Suspend",
    "phone:step:resolve": "Resolved",
    "phone:step:sign": "Customer signs",
    "phone:reason": "Reason",
    "phone:summary": "What was done",
    "phone:photos": "Photos",
    "phone:sign here": "Customer: please sign in the box.",
    "phone:clear": "Clear",
    "phone:signer": "Signer's name",
    "phone:sign first": "The box is empty: sign first.",
    "phone:nothing now": "Nothing to do on this ticket now.",
    "phone:timeline": "Timeline",
    "phone:occurred": "happened",
    "phone:recorded": "recorded",
    "phone:queue empty": "Everything is sent.",
    "phone:queue pending": "Waiting to send: {n}",
    "phone:offline": "Offline: steps are kept on the phone and sent when the network returns.",
    "phone:failed": "Refused",
    "phone:queued": "Kept, to send",
    "sev:emergency": "Emergency",
    "sev:critical": "Critical",
    "sev:major": "Major",
    "sev:general": "General",
}

_ZH: dict[str, str] = {
    # ---------------------------------------------------------------- skeleton (desk)
    "workbench": "工作台",
    "home": "首页",
    "nav:intake": "接报",
    "nav:queues": "队列",
    "nav:search": "搜索",
    "nav:dashboard": "看板",
    "welcome": "当前用户：{name}（{role}）。",
    "may open": "可用页面",
    "not recorded": "未记录。",
    "recorded": "已记录：{number}",
    "field error": "请检查下面标出的字段。",
    "err:required": "必填。",
    "err:empty": "不能为空。",
    "err:too long": "最多 {n} 个字符。",
    "err:too short": "至少 {n} 个字符。",
    "err:phone": "只能包含数字、空格和 + ( ) -（3 到 40 个字符）。",
    "err:choice": "请从选项中选择。",
    "err:time": "时间格式不对，例如 2026-10-08 09:00。",
    "err:unknown": "此表单没有这个字段。",
    "err:invalid": "填写有误。",
    "err:forbidden": "您的角色无权执行此操作。",
    "err:not found": "没有这条记录。",
    "err:conflict": "记录已被他人修改，请刷新后重试。",
    "err:rule": "账本规则拒绝了此操作：",
    "err:bad input": "输入无法识别。",
    # ---------------------------------------------------------------- the phone (field)
    "nav:phone": "我的工单",
    "phone:mine": "我的工单",
    "phone:none": "没有未关闭的工单。",
    "phone:step:respond": "响应",
    "phone:step:set_off": "出发",
    "phone:step:arrive": "到达现场",
    "phone:step:resume": "恢复",
    "phone:step:suspend": "暂停",
    "phone:step:resolve": "已修复",
    "phone:step:sign": "客户签字",
    "phone:reason": "原因",
    "phone:summary": "处理情况",
    "phone:photos": "照片",
    "phone:sign here": "请客户在框内签字。",
    "phone:clear": "清除",
    "phone:signer": "签字人姓名",
    "phone:sign first": "签字框是空的：请先签字。",
    "phone:nothing now": "此工单当前没有可做的操作。",
    "phone:timeline": "时间线",
    "phone:occurred": "发生于",
    "phone:recorded": "记录于",
    "phone:queue empty": "全部已发送。",
    "phone:queue pending": "待发送：{n} 条",
    "phone:offline": "离线：操作先保存在手机上，联网后自动发送。",
    "phone:failed": "被拒绝",
    "phone:queued": "已保存，待发送",
    "sev:emergency": "紧急",
    "sev:critical": "重大",
    "sev:major": "较大",
    "sev:general": "一般",
}

WORDS = Words({"en": _EN, "zh": _ZH})


def word(key: str, lang: Lang, **values: object) -> str:
    """The label ``key`` in ``lang`` (the dashboard's when the workbench has none), with
    ``{placeholders}`` filled in."""
    if key not in WORDS.own[lang]:
        return dashboard_word(key, lang, **values)
    text = WORDS(key, lang, key)
    return text.format(**values) if values else text
