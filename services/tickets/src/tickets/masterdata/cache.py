"""Master data held in memory: the create path must not query six small tables per request.

Each process keeps one :class:`MasterData` snapshot and reloads it when it is older than
``masterdata_cache_seconds`` (or at once after an administrator's change in this process).
A lookup that misses (a category created through another replica a moment ago) forces one
reload before it is treated as unknown.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tickets.masterdata.models import (
    Category,
    Holiday,
    OfficeHours,
    Priority,
    PriorityRule,
    SlaPolicy,
)
from tickets.sla.calendar import WorkingCalendar

FALLBACK_PRIORITY = "normal"
MISS_RELOAD_INTERVAL = 1.0


@dataclass(frozen=True)
class PriorityInfo:
    code: str
    name: str
    rank: int
    is_default: bool
    is_active: bool
    first_response_minutes: int | None
    resolution_minutes: int | None


@dataclass(frozen=True)
class CategoryInfo:
    id: uuid.UUID
    name: str
    default_priority: str | None
    is_active: bool


@dataclass(frozen=True)
class RuleInfo:
    id: uuid.UUID
    priority: str
    keyword: re.Pattern[str] | None
    unit_id: uuid.UUID | None
    category_id: uuid.UUID | None

    def matches(self, *, text: str, unit_id: uuid.UUID, category_id: uuid.UUID | None) -> bool:
        if self.unit_id is not None and self.unit_id != unit_id:
            return False
        if self.category_id is not None and self.category_id != category_id:
            return False
        return self.keyword is None or self.keyword.search(text) is not None


def keyword_pattern(keyword: str) -> re.Pattern[str]:
    # Whole words, any case: "virus" matches "Kena VIRUS" but not "antivirus".
    return re.compile(rf"(?<!\w){re.escape(keyword.strip())}(?!\w)", re.IGNORECASE)


@dataclass(frozen=True)
class MasterData:
    priorities: dict[str, PriorityInfo]
    categories: dict[uuid.UUID, CategoryInfo]
    rules: tuple[RuleInfo, ...]
    calendar: WorkingCalendar
    loaded_at: float = field(default_factory=time.monotonic)

    @property
    def default_priority(self) -> str:
        for priority in self.priorities.values():
            if priority.is_default and priority.is_active:
                return priority.code
        return FALLBACK_PRIORITY

    def priority_name(self, code: str) -> str:
        info = self.priorities.get(code)
        return info.name if info else code

    def category_name(self, category_id: uuid.UUID | None) -> str | None:
        info = self.categories.get(category_id) if category_id else None
        return info.name if info else None

    def choose_priority(
        self, *, title: str, description: str, unit_id: uuid.UUID, category_id: uuid.UUID | None
    ) -> tuple[str, str]:
        """Automatic priority and where it came from: ``rule``, ``category`` or ``default``.

        Matching rules override the category's default; among several matching rules the
        most urgent wins, so the order in which rules were entered never matters.
        """
        text = f"{title}\n{description}"
        best: PriorityInfo | None = None
        for rule in self.rules:
            info = self.priorities.get(rule.priority)
            if info is None or not info.is_active:
                continue
            if rule.matches(text=text, unit_id=unit_id, category_id=category_id) and (
                best is None or info.rank > best.rank
            ):
                best = info
        if best is not None:
            return best.code, "rule"
        category = self.categories.get(category_id) if category_id else None
        if category and category.default_priority:
            info = self.priorities.get(category.default_priority)
            if info and info.is_active:
                return info.code, "category"
        return self.default_priority, "default"


async def load_master_data(session: AsyncSession, *, timezone: str) -> MasterData:
    policies = {p.priority: p for p in (await session.scalars(sa.select(SlaPolicy))).all()}
    priorities = {
        p.code: PriorityInfo(
            code=p.code,
            name=p.name,
            rank=p.rank,
            is_default=p.is_default,
            is_active=p.is_active,
            first_response_minutes=(
                policies[p.code].first_response_minutes if p.code in policies else None
            ),
            resolution_minutes=policies[p.code].resolution_minutes if p.code in policies else None,
        )
        for p in (await session.scalars(sa.select(Priority))).all()
    }
    categories = {
        c.id: CategoryInfo(
            id=c.id, name=c.name, default_priority=c.default_priority, is_active=c.is_active
        )
        for c in (await session.scalars(sa.select(Category))).all()
    }
    rules = tuple(
        RuleInfo(
            id=r.id,
            priority=r.priority,
            keyword=keyword_pattern(r.keyword) if r.keyword else None,
            unit_id=r.unit_id,
            category_id=r.category_id,
        )
        for r in (
            await session.scalars(sa.select(PriorityRule).where(PriorityRule.is_active))
        ).all()
    )
    hours = (await session.scalars(sa.select(OfficeHours))).all()
    holidays = (await session.scalars(sa.select(Holiday.day))).all()
    calendar = WorkingCalendar.build(
        timezone=timezone,
        windows=[(h.weekday, h.start_time, h.end_time) for h in hours],
        holidays=holidays,
    )
    return MasterData(priorities=priorities, categories=categories, rules=rules, calendar=calendar)


class MasterDataCache:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], *, timezone: str, ttl: float
    ) -> None:
        self._sessionmaker = sessionmaker
        self._timezone = timezone
        self._ttl = ttl
        self._current: MasterData | None = None
        self._lock = asyncio.Lock()
        # Bumped by invalidate(): a reload that read the tables before a change committed
        # must not keep its snapshot as current.
        self._generation = 0

    async def get(self) -> MasterData:
        current = self._current
        if current is not None and time.monotonic() - current.loaded_at < self._ttl:
            return current
        return await self.refresh(older_than=current)

    async def refresh(self, *, older_than: MasterData | None = None) -> MasterData:
        """Reload once, however many requests ask at the same moment."""
        async with self._lock:
            if self._current is not None and self._current is not older_than:
                return self._current
            generation = self._generation
            async with self._sessionmaker() as session:
                loaded = await load_master_data(session, timezone=self._timezone)
            if generation == self._generation:
                self._current = loaded
            return loaded

    async def get_fresh_if_missing(
        self, *, category_id: uuid.UUID | None = None, priority: str | None = None
    ) -> MasterData:
        """The snapshot, reloaded if it lacks the given category or priority.

        At most one such reload a second, so requests naming made-up ids cannot turn the
        cache into a query per request.
        """
        data = await self.get()
        missing = (category_id is not None and category_id not in data.categories) or (
            priority is not None and priority not in data.priorities
        )
        if missing and time.monotonic() - data.loaded_at > MISS_RELOAD_INTERVAL:
            data = await self.refresh(older_than=data)
        return data

    def invalidate(self) -> None:
        """Forget the snapshot: the next request reads the tables again (called in every
        process when any of them committed a change: see ``tickets.masterdata.changes``)."""
        self._generation += 1
        self._current = None
