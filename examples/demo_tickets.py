"""Write a realistic month of service (October 2026) as ``ledger import`` lines.

Deterministic (seeded), across the five seed contracts: most tickets run the whole
lifecycle; some are consultations solved by phone, some wait for the customer
(suspended), climb the escalation ladder, get a loaner unit, are reopened, cancelled, or
are still open at the end of the month. Then the quality department's work on them: return
visits auditing closed tickets (scored, mostly passed; a failed audit reopens the ticket),
corrective actions raised from low scores, and a few complaints.
Usage: ``python examples/demo_tickets.py > t.jsonl``.
"""

from __future__ import annotations

import json
import random
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")

CONTRACTS = {
    "seed-000": ("某市自然资源和规划局", ["地形图数据库", "GIS 数据服务", "控制测量成果"]),
    "seed-001": ("某区政务服务中心", ["审批系统服务器", "业务办理系统", "数据交换平台"]),
    "seed-002": ("禹州市公安局", ["监控摄像机", "门禁控制器", "对讲主机", "周界报警主机"]),
    "seed-003": ("某县档案馆", ["高速扫描仪", "档案管理系统", "数字化加工工作站"]),
    "seed-004": ("某市财政局", ["复印机", "激光打印机", "一体机"]),
}
SITES = {
    "seed-000": "自然资源大楼 5 楼信息中心",
    "seed-001": "政务服务中心 2 楼机房",
    "seed-002": "禹州市看守所监控中心",
    "seed-003": "档案馆数字化加工室",
    "seed-004": "财政局办公楼 3 楼",
}
FAULTS = ["无法开机", "数据无法读取", "画面无信号", "频繁卡纸", "登录报错 500", "网络中断", "报警误报"]
ENGINEERS = ["王工", "刘工", "陈工", "赵工", "孙工", "周工"]
CONTACTS = [("张三", "13800138001"), ("李四", "13900139002"), ("王芳", "0374-6099651")]
DISPATCHER = {"actor": "李娜", "role": "dispatcher"}


def iso(t: datetime) -> str:
    return t.isoformat(timespec="minutes")


def ticket_lines(rng: random.Random, ref: str, reported: datetime) -> list[dict[str, object]]:
    contract = rng.choice(sorted(CONTRACTS))
    customer, devices = CONTRACTS[contract]
    device = rng.choice(devices)
    contact = rng.choice(CONTACTS)
    consultation = rng.random() < 0.15
    severity = rng.choices(["emergency", "critical", "major", "general"], [1, 1, 3, 8])[0]
    lines: list[dict[str, object]] = [
        {
            "command": "report", "ref": ref, "at": iso(reported), **DISPATCHER,
            "contract": contract, "customer": customer, "contact_name": contact[0],
            "contact_phone": contact[1], "site": SITES[contract], "device": device,
            "category": "consultation" if consultation else "defect", "severity": severity,
            "description": f"{device}{'使用咨询' if consultation else rng.choice(FAULTS)}",
            "channel": rng.choice(["phone", "phone", "phone", "wechat", "email"]),
        }
    ]
    t = reported + timedelta(minutes=rng.choice([1, 2, 2, 3, 3, 4, 4, 5, 6, 12, 35]))
    lines.append({"command": "respond", "ticket": ref, "at": iso(t), **DISPATCHER})
    if rng.random() < 0.02:
        t += timedelta(minutes=10)
        lines.append({"command": "cancel", "ticket": ref, "at": iso(t), **DISPATCHER,
                      "reason": "客户确认为误报，撤销报修"})
        return lines
    engineer = rng.choice(ENGINEERS)
    as_engineer = {"actor": engineer, "role": "engineer"}
    if consultation:
        t += timedelta(minutes=rng.randint(10, 90))
        lines.append({"command": "resolve", "ticket": ref, "at": iso(t), **as_engineer,
                      "mode": "remote", "summary": "电话指导客户完成操作"})
    else:
        t += timedelta(minutes=rng.randint(1, 5))
        lines.append({"command": "dispatch", "ticket": ref, "at": iso(t), **DISPATCHER,
                      "engineer": engineer})
        if rng.random() < 0.12:
            t += timedelta(minutes=rng.randint(20, 60))
            lines.append({"command": "escalate", "ticket": ref, "at": iso(t),
                          "actor": "system:sweep", "role": "system",
                          "to": "department_manager", "reason": "响应超时，自动升级"})
        t += timedelta(minutes=rng.choice([8, 12, 15, 18, 25, 40, 90]))
        lines.append({"command": "arrive", "ticket": ref, "at": iso(t), **as_engineer})
        if rng.random() < 0.1:
            t += timedelta(minutes=30)
            lines.append({"command": "suspend", "ticket": ref, "at": iso(t), **as_engineer,
                          "reason": "等待客户提供机房进入许可"})
            t += timedelta(hours=rng.randint(2, 20))
            lines.append({"command": "resume", "ticket": ref, "at": iso(t), **as_engineer,
                          "reason": "客户已提供许可"})
        repair = timedelta(minutes=rng.choice([40, 90, 150, 240, 400, 600]))
        if repair > timedelta(hours=8) or (repair > timedelta(hours=4) and rng.random() < 0.5):
            lines.append({"command": "replace", "ticket": ref, "at": iso(t + timedelta(hours=3)),
                          **as_engineer, "unit": f"同型号备用{device}（备机 B-{rng.randint(100, 999)}）"})
        if repair > timedelta(hours=6) and rng.random() < 0.5:
            lines.append({"command": "escalate", "ticket": ref, "at": iso(t + timedelta(hours=5)),
                          "actor": "周经理", "role": "department_manager",
                          "to": "chief_engineer_office", "reason": "技术问题现场无法解决，提交总工办"})
        t += repair
        if t > datetime(2026, 10, 31, 18, 0, tzinfo=TZ) or rng.random() < 0.06:
            return lines  # still being worked on
        lines.append({"command": "resolve", "ticket": ref, "at": iso(t), **as_engineer,
                      "mode": "on-site", "summary": f"更换故障部件，{device}恢复正常"})
    t += timedelta(minutes=rng.randint(5, 60))
    kind = rng.choices(["customer", "manager_approved", "fax_copy"], [10, 1, 1])[0]
    lines.append({"command": "sign", "ticket": ref, "at": iso(t), **as_engineer,
                  "signer": contact[0] if kind != "manager_approved" else "客户部门经理",
                  "kind": kind})
    if rng.random() < 0.05:
        t += timedelta(days=1)
        lines.append({"command": "reopen", "ticket": ref, "at": iso(t), "actor": "质量部-陈敏",
                      "role": "quality", "reason": "回访发现故障复现"})
        t += timedelta(hours=3)
        lines.append({"command": "resolve", "ticket": ref, "at": iso(t), **as_engineer,
                      "mode": "remote", "summary": "远程调整配置，复测正常"})
        t += timedelta(minutes=20)
        lines.append({"command": "sign", "ticket": ref, "at": iso(t), **as_engineer,
                      "signer": contact[0]})
    t += timedelta(hours=rng.randint(1, 30))
    if t < datetime(2026, 11, 1, tzinfo=TZ):
        lines.append({"command": "close", "ticket": ref, "at": iso(t), **DISPATCHER})
    return lines


def main(count: int = 60, seed: int = 2026) -> None:
    rng = random.Random(seed)
    start = datetime(2026, 10, 1, 0, 0, tzinfo=TZ)
    reports = sorted(
        start + timedelta(minutes=rng.randint(0, 30 * 24 * 60 - 1)) for _ in range(count)
    )
    tickets = [ticket_lines(rng, f"demo-{i + 1:03d}", t) for i, t in enumerate(reports)]
    # Interleave by time, as a hotline would record them; reports stay first per ticket.
    lines = sorted(
        (line for ticket in tickets for line in ticket),
        key=lambda line: (str(line["at"]), line["command"] != "report"),
    )
    quality = [q for ticket in tickets for q in quality_lines(rng, ticket)]
    quality += periodic_visit_lines(rng)
    quality.sort(key=lambda line: str(line["at"]))
    for line in [*lines, *quality]:
        sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")


QUALITY = {"actor": "质量部-陈敏", "role": "quality"}
CHIEF = {"actor": "总工办-刘总", "role": "chief_engineer_office"}
DEPARTMENT = "售后服务部"


def quality_lines(rng: random.Random, ticket: list[dict[str, object]]) -> list[dict[str, object]]:
    """The quality department's follow-up of one ticket: an audit visit for some closed
    tickets, a corrective action for a poor score, now and then a complaint."""
    ref = str(ticket[0]["ref"])
    closes = [line for line in ticket if line["command"] == "close"]
    engineer = next((str(line["engineer"]) for line in ticket if "engineer" in line), None)
    lines: list[dict[str, object]] = []
    if engineer and rng.random() < 0.06:
        t = datetime.fromisoformat(str(ticket[0]["at"])) + timedelta(hours=rng.randint(2, 30))
        lines += complaint_lines(rng, ref, engineer, t)
    if not closes or rng.random() < 0.45:
        return lines
    t = datetime.fromisoformat(str(closes[-1]["at"])) + timedelta(hours=rng.randint(20, 60))
    visit = f"{ref}-visit"
    lines.append({"command": "visit_schedule", "ref": visit, "ticket": ref, "form": "phone",
                  "visitor": "质量部-陈敏", "planned_at": iso(t), "at": iso(t - timedelta(hours=4)),
                  **QUALITY})
    t += timedelta(minutes=rng.randint(0, 40))
    lines.append({"command": "visit_conduct", "visit": visit, "at": iso(t), **QUALITY,
                  "content": "电话回访服务过程与维修效果", "customer_opinion": "工程师态度好，处理及时"})
    poor = rng.random() < 0.15
    low, high = (35, 70) if poor else (78, 100)
    scores = {k: rng.randint(low, high)
              for k in ("engineering_quality", "progress", "service", "performance_capability")}
    lines.append({"command": "visit_score", "visit": visit, "at": iso(t + timedelta(minutes=5)),
                  **QUALITY, **scores})
    failed = poor and rng.random() < 0.5
    t += timedelta(minutes=30)
    lines.append({"command": "visit_audit", "visit": visit, "at": iso(t), **QUALITY,
                  "verdict": "fail" if failed else "pass",
                  **({"reason": "服务单缺少故障原因分析，回访客户反映故障复现"} if failed else {})})
    if failed:  # the ticket went back: fix it again
        as_engineer = {"actor": engineer or "王工", "role": "engineer"}
        lines += [
            {"command": "resolve", "ticket": ref, "at": iso(t + timedelta(hours=3)), **as_engineer,
             "mode": "remote", "summary": "远程复查配置并指导客户更换老化部件，补充故障原因分析"},
            {"command": "sign", "ticket": ref, "at": iso(t + timedelta(hours=4)), **as_engineer,
             "signer": "客户代表"},
            {"command": "close", "ticket": ref, "at": iso(t + timedelta(hours=5)), **DISPATCHER},
        ]
    if poor:
        lines += action_lines(rng, f"{ref}-action", visit, t + timedelta(hours=1))
    return lines


def periodic_visit_lines(rng: random.Random) -> list[dict[str, object]]:
    """The contracts' periodic visits: seed 000's weekly contact, seed 001's quarterly
    inspection round, seed 004's yearly satisfaction survey and key-customer visit."""
    plan = [("seed-000", "weekly_contact", "phone", datetime(2026, 10, 9, 10, 0, tzinfo=TZ) + timedelta(weeks=w))
            for w in range(6)]
    plan += [
        ("seed-001", "inspection_round", "on-site", datetime(2026, 10, 15, 9, 30, tzinfo=TZ)),
        ("seed-004", "satisfaction_survey", "phone", datetime(2026, 10, 20, 15, 0, tzinfo=TZ)),
        ("seed-004", "key_customer_visit", "on-site", datetime(2026, 10, 21, 10, 0, tzinfo=TZ)),
    ]
    lines: list[dict[str, object]] = []
    for i, (contract, kind, form, t) in enumerate(plan):
        ref = f"periodic-{i + 1:02d}"
        lines += [
            {"command": "visit_schedule", "ref": ref, "contract": contract, "purpose": kind,
             "form": form, "visitor": "质量部-陈敏", "planned_at": iso(t),
             "at": iso(t - timedelta(days=2)), **QUALITY},
            {"command": "visit_conduct", "visit": ref, "at": iso(t + timedelta(minutes=20)), **QUALITY,
             "content": "例行回访：设备运行情况、服务意见", "customer_opinion": "运行正常，无意见"},
        ]
        if kind == "satisfaction_survey":
            scores = {k: rng.randint(80, 96)
                      for k in ("engineering_quality", "progress", "service", "performance_capability")}
            lines.append({"command": "visit_score", "visit": ref, "at": iso(t + timedelta(minutes=30)),
                          **QUALITY, **scores})
        if form == "on-site":
            lines.append({"command": "visit_sign", "visit": ref, "at": iso(t + timedelta(minutes=40)),
                          **QUALITY, "signer": "客户信息科负责人"})
    return lines


def action_lines(rng: random.Random, ref: str, visit: str, t: datetime) -> list[dict[str, object]]:
    """纠正预防措施: the seven boxes of seed 000's card; some still open at the month's end."""
    lines: list[dict[str, object]] = [
        {"command": "action_raise", "ref": ref, "at": iso(t), **QUALITY, "source": "return_visit",
         "links": [visit], "department": DEPARTMENT, "content": "回访满意度低于 60 分"},
        {"command": "action_analyse", "action": ref, "at": iso(t + timedelta(days=1)), **QUALITY,
         "cause": "现场备件不足，维修拖延；工程师未及时告知客户进度"},
        {"command": "action_plan", "action": ref, "at": iso(t + timedelta(days=2)), **QUALITY,
         "corrective": "补充常用备件库存", "preventive": "维修超过 2 小时须电话告知客户进度",
         "responsible": "周经理", "due_on": (t + timedelta(days=rng.choice([5, 10, 20]))).date().isoformat()},
    ]
    if rng.random() < 0.4:
        return lines  # still being implemented
    done = t + timedelta(days=4)
    lines += [
        {"command": "action_implement", "action": ref, "at": iso(done), **QUALITY,
         "description": "备件已补充，进度告知要求已培训到人"},
        {"command": "action_result", "action": ref, "at": iso(done + timedelta(days=1)), **QUALITY,
         "result": "两周内同类投诉为零"},
        {"command": "action_verify", "action": ref, "at": iso(done + timedelta(days=2)), **CHIEF,
         "effective": True, "comment": "措施有效"},
        {"command": "action_close", "action": ref, "at": iso(done + timedelta(days=2, hours=1)), **CHIEF},
    ]
    return lines


def complaint_lines(rng: random.Random, ticket: str, engineer: str, t: datetime) -> list[dict[str, object]]:
    """投诉 (seed 004): received, analysed, resolved and closed within days."""
    ref = f"{ticket}-complaint"
    category = rng.choice(["quality", "non_quality", "other"])
    return [
        {"command": "complaint_receive", "ref": ref, "at": iso(t), **DISPATCHER, "channel": "phone",
         "about": "ticket", "reference": ticket, "category": category,
         "content": "维修后同一故障再次出现" if category == "quality" else "工程师未按约定时间到场"},
        {"command": "complaint_analyse", "complaint": ref, "at": iso(t + timedelta(hours=20)),
         **QUALITY, "cause": "工程师行程安排冲突，未提前告知", "department": DEPARTMENT,
         "ours": category != "other"},
        {"command": "complaint_resolve", "complaint": ref, "at": iso(t + timedelta(days=2)),
         **QUALITY, "handling": "向客户致歉并调整排班", "result": "已电话告知客户处理结果，客户认可"},
        {"command": "complaint_close", "complaint": ref, "at": iso(t + timedelta(days=3)), **QUALITY},
    ]


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
