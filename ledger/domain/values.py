"""Value objects and vocabularies shared by the aggregates."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Who acts. Which role may issue which command: ``ledger/domain/roles.py`` (docs/roles.md)."""

    DISPATCHER = "dispatcher"  # hotline / 调度
    ENGINEER = "engineer"
    DEPARTMENT_MANAGER = "department_manager"
    PROJECT_GENERAL_MANAGER = "project_general_manager"
    CHIEF_ENGINEER_OFFICE = "chief_engineer_office"  # 总工办
    QUALITY = "quality"  # 质量部 / 质保部
    CUSTOMER = "customer"
    AUDITOR = "auditor"
    SYSTEM = "system"
    ADMIN = "admin"


class Category(StrEnum):
    CONSULTATION = "consultation"  # 咨询类
    DEFECT = "defect"  # 系统缺陷类


class Severity(StrEnum):
    EMERGENCY = "emergency"  # 紧急
    CRITICAL = "critical"  # 重大
    MAJOR = "major"  # 较大
    GENERAL = "general"  # 一般


class Channel(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    WECHAT = "wechat"
    ON_SITE = "on-site"
    WEB = "web"
    FAX = "fax"
    OTHER = "other"


class EscalationLevel(StrEnum):
    """The ladder of seeds 000, 002 and 003, lowest first."""

    ENGINEER = "engineer"
    DEPARTMENT_MANAGER = "department_manager"
    PROJECT_GENERAL_MANAGER = "project_general_manager"
    CHIEF_ENGINEER_OFFICE = "chief_engineer_office"  # 总工办

    @property
    def rank(self) -> int:
        return list(EscalationLevel).index(self)


class ResolutionMode(StrEnum):
    REMOTE = "remote"
    ON_SITE = "on-site"


class SignatureKind(StrEnum):
    """Seeds 003/004: a service form is valid only with one of these."""

    CUSTOMER = "customer"  # signed by the customer on the form
    MANAGER_APPROVED = "manager_approved"  # approved by the customer's department manager
    FAX_COPY = "fax_copy"  # a faxed copy of the signed form


class TicketStatus(StrEnum):
    REPORTED = "reported"
    RESPONDED = "responded"
    DISPATCHED = "dispatched"
    ON_SITE = "on_site"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class VisitPurpose(StrEnum):
    """Why a return visit is made (the contract's periodic visits, or an audit); here, not
    in return_visit.py, so a contract is read without the visit's event classes."""

    WEEKLY_CONTACT = "weekly_contact"  # seed 000: weekly proactive contact
    INSPECTION_ROUND = "inspection_round"  # seed 001: quarterly inspection 巡检
    SATISFACTION_SURVEY = "satisfaction_survey"  # seeds 000/004: yearly 顾客意见调查
    KEY_CUSTOMER_VISIT = "key_customer_visit"  # seed 004: key customers at least yearly
    TICKET_AUDIT = "ticket_audit"  # seed 003: 质量部 audits a returned service form
    OTHER = "other"
