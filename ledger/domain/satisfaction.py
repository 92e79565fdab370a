"""Seed 000's satisfaction survey (顾客意见调查表) on a return visit's card: four scores, 0–100
each, their exact total (A+B+C+D)/4 and its band (很不满意 … 很满意). Pure arithmetic, used
by the visit aggregate, its read model and the satisfaction report."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from ledger.domain.model import Immutable


class SatisfactionBand(StrEnum):
    """Seed 000's four bands of the survey total."""

    VERY_DISSATISFIED = "very_dissatisfied"
    DISSATISFIED = "dissatisfied"
    FAIRLY_SATISFIED = "fairly_satisfied"
    VERY_SATISFIED = "very_satisfied"

    @property
    def zh(self) -> str:
        return _BANDS[self][0]

    @property
    def en(self) -> str:
        return self.value.replace("_", " ")

    @property
    def lowest(self) -> int:
        """The lowest (rounded) total in the band."""
        return _BANDS[self][1]

    @property
    def highest(self) -> int:
        """The highest (rounded) total in the band."""
        return _BANDS[self][2]


_BANDS = {
    SatisfactionBand.VERY_DISSATISFIED: ("很不满意", 0, 40),
    SatisfactionBand.DISSATISFIED: ("不太满意", 41, 60),
    SatisfactionBand.FAIRLY_SATISFIED: ("较满意", 61, 80),
    SatisfactionBand.VERY_SATISFIED: ("很满意", 81, 100),
}


def satisfaction_total(a: int, b: int, c: int, d: int) -> Decimal:
    """Seed 000's total (A+B+C+D)/4, exact: a multiple of 0.25 between 0 and 100."""
    for score in (a, b, c, d):
        if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 100:
            raise ValueError(f"a satisfaction score is a whole number from 0 to 100, not {score!r}")
    return Decimal(a + b + c + d) / 4


def satisfaction_band(total: Decimal | int) -> SatisfactionBand:
    """The band of a total. The bands are written in whole numbers (0–40, 41–60, 61–80,
    81–100), so a fractional total is first rounded half up, as on the paper form (四舍五入):
    40.25 is 很不满意, 40.5 is 不太满意, 80.5 is 很满意."""
    rounded = int(Decimal(total).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if not 0 <= rounded <= 100:
        raise ValueError(f"a satisfaction total lies between 0 and 100, not {total}")
    return next(band for band in SatisfactionBand if rounded <= band.highest)


Score = Annotated[int, Field(strict=True, ge=0, le=100)]


class SatisfactionScores(Immutable):
    """The survey's four scores (顾客意见调查表), each 0–100."""

    engineering_quality: Score  # A 工程质量
    progress: Score  # B 进度
    service: Score  # C 服务
    performance_capability: Score  # D 履约能力

    @property
    def total(self) -> Decimal:
        return satisfaction_total(
            self.engineering_quality, self.progress, self.service, self.performance_capability
        )

    @property
    def band(self) -> SatisfactionBand:
        return satisfaction_band(self.total)
