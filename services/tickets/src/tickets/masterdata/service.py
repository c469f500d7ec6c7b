"""Administering master data; every change is written to the audit log in its transaction."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.auth import Principal
from helpdesk_common.directory import DirectoryUnit
from helpdesk_common.errors import Conflict, InvalidInput, NotFound
from tickets.masterdata.models import (
    AuditEntry,
    Category,
    Holiday,
    OfficeHours,
    Priority,
    PriorityRule,
    SlaPolicy,
)
from tickets.masterdata.schemas import (
    CategoryCreate,
    CategoryOut,
    CategoryUpdate,
    HolidayIn,
    HolidayOut,
    OfficeHoursIn,
    OfficeWindow,
    PriorityCreate,
    PriorityOut,
    PriorityRuleIn,
    PriorityRuleOut,
    PriorityRuleUpdate,
    PriorityUpdate,
    SlaPolicyIn,
    SlaPolicyOut,
)
from tickets.shared import jsonable
from tickets.sla.calendar import WorkingCalendar

_Entity = TypeVar("_Entity")


def audit(
    session: AsyncSession,
    *,
    actor: Principal,
    action: str,
    entity_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(
            actor_id=actor.user_id,
            actor_name=actor.name or str(actor.user_id),
            action=action,
            entity_id=str(entity_id),
            before={k: jsonable(v) for k, v in before.items()} if before else None,
            after={k: jsonable(v) for k, v in after.items()} if after else None,
        )
    )


def _not_found(what: str) -> NotFound:
    return NotFound("not_found", f"{what} not found")


def _apply(entity: object, changes: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    before, after = {}, {}
    for field, value in changes.items():
        old = getattr(entity, field)
        if old != value:
            before[field], after[field] = old, value
            setattr(entity, field, value)
    return before, after


def _requested(data: BaseModel, *, required: tuple[str, ...]) -> dict[str, Any]:
    """The fields a PATCH set; 422 for a required one set to null (it cannot be removed)."""
    changes = data.model_dump(exclude_unset=True)
    for field in required:
        if field in changes and changes[field] is None:
            raise InvalidInput("required", f"{field} cannot be removed", field=field)
    return changes


async def _locked(
    session: AsyncSession, model: type[_Entity], key: object, *, what: str
) -> _Entity:
    """The row to change, locked for the transaction, or 404."""
    entity = await session.get(model, key, with_for_update=True)
    if entity is None:
        raise _not_found(what)
    return entity


def _update(
    session: AsyncSession,
    entity: Any,
    changes: dict[str, Any],
    *,
    actor: Principal,
    action: str,
    entity_id: object,
    touch: bool = True,
) -> None:
    """Apply ``changes`` and audit what actually changed (nothing changed: no audit line).

    ``touch`` stamps ``updated_at`` with the database's clock when the change is flushed;
    a caller that returns it (SLA policies) flushes and refreshes to read it back.
    """
    before, after = _apply(entity, changes)
    if after:
        if touch:
            entity.updated_at = sa.func.now()
        audit(session, actor=actor, action=action, entity_id=entity_id, before=before, after=after)


async def _created(
    session: AsyncSession, entity: Any, *, actor: Principal, action: str, data: BaseModel
) -> None:
    """Insert ``entity`` (its id is known after the flush) and audit the request's data."""
    session.add(entity)
    await session.flush()
    (key,) = sa.inspect(entity).identity
    audit(session, actor=actor, action=action, entity_id=key, after=data.model_dump())


# -- priorities and SLA -----------------------------------------------------------------


async def list_priorities(session: AsyncSession) -> list[PriorityOut]:
    rows = (
        await session.execute(
            sa.select(Priority, SlaPolicy)
            .outerjoin(SlaPolicy, SlaPolicy.priority == Priority.code)
            .order_by(Priority.rank)
        )
    ).all()
    return [_priority_out(p, s) for p, s in rows]


def _priority_out(priority: Priority, policy: SlaPolicy | None) -> PriorityOut:
    return PriorityOut(
        code=priority.code,
        name=priority.name,
        rank=priority.rank,
        is_default=priority.is_default,
        is_active=priority.is_active,
        first_response_minutes=policy.first_response_minutes if policy else None,
        resolution_minutes=policy.resolution_minutes if policy else None,
    )


async def _require_priority(session: AsyncSession, code: str, *, field: str) -> Priority:
    priority = await session.get(Priority, code)
    if priority is None or not priority.is_active:
        raise InvalidInput(
            "unknown_priority", f"Unknown or inactive priority {code!r}", field=field
        )
    return priority


async def _clear_default(session: AsyncSession, *, keep: str) -> None:
    await session.execute(
        sa.update(Priority)
        .where(Priority.code != keep, Priority.is_default)
        .values(is_default=False)
    )


async def create_priority(
    session: AsyncSession, *, actor: Principal, data: PriorityCreate
) -> PriorityOut:
    if await session.get(Priority, data.code) is not None:
        raise Conflict("duplicate", f"Priority {data.code!r} exists already", field="code")
    if data.is_default:
        await _clear_default(session, keep=data.code)
    priority = Priority(
        code=data.code, name=data.name, rank=data.rank, is_default=data.is_default, is_active=True
    )
    await _created(session, priority, actor=actor, action="priority.created", data=data)
    return _priority_out(priority, None)


async def update_priority(
    session: AsyncSession, *, actor: Principal, code: str, data: PriorityUpdate
) -> PriorityOut:
    priority = await _locked(session, Priority, code, what="Priority")
    changes = _requested(data, required=("name", "rank", "is_default", "is_active"))
    will_be_default = changes.get("is_default", priority.is_default)
    will_be_active = changes.get("is_active", priority.is_active)
    if will_be_default and not will_be_active:
        raise Conflict(
            "default_priority",
            "The default priority cannot be deactivated; make another one the default first",
            field="is_active",
        )
    if changes.get("is_default") is False and priority.is_default:
        raise Conflict(
            "default_priority",
            "There must be a default priority; make another one the default instead",
            field="is_default",
        )
    if changes.get("is_default"):
        await _clear_default(session, keep=code)
    _update(session, priority, changes, actor=actor, action="priority.updated", entity_id=code)
    # Everything PriorityOut shows was set here; the change is flushed at the commit.
    return _priority_out(priority, await session.get(SlaPolicy, code))


async def list_sla_policies(session: AsyncSession) -> list[SlaPolicyOut]:
    policies = (
        await session.scalars(
            sa.select(SlaPolicy)
            .join(Priority, Priority.code == SlaPolicy.priority)
            .order_by(Priority.rank)
        )
    ).all()
    return [_policy_out(p) for p in policies]


def _policy_out(policy: SlaPolicy) -> SlaPolicyOut:
    return SlaPolicyOut(
        priority=policy.priority,
        first_response_minutes=policy.first_response_minutes,
        resolution_minutes=policy.resolution_minutes,
        updated_at=policy.updated_at,
    )


async def put_sla_policy(
    session: AsyncSession, *, actor: Principal, priority: str, data: SlaPolicyIn
) -> SlaPolicyOut:
    """Create or replace the policy of a priority; it applies to tickets created from now."""
    await _require_priority(session, priority, field="priority")
    policy = await session.get(SlaPolicy, priority, with_for_update=True)
    if policy is None:
        policy = SlaPolicy(priority=priority, **data.model_dump())
        await _created(session, policy, actor=actor, action="sla_policy.created", data=data)
    else:
        changes = data.model_dump()
        _update(
            session, policy, changes, actor=actor, action="sla_policy.updated", entity_id=priority
        )
    await session.flush()
    await session.refresh(policy)
    return _policy_out(policy)


# -- categories -------------------------------------------------------------------------


def _category_out(category: Category) -> CategoryOut:
    return CategoryOut(
        id=category.id,
        name=category.name,
        description=category.description,
        default_priority=category.default_priority,
        is_active=category.is_active,
    )


async def list_categories(session: AsyncSession, *, include_inactive: bool) -> list[CategoryOut]:
    query = sa.select(Category).order_by(Category.name)
    if not include_inactive:
        query = query.where(Category.is_active)
    return [_category_out(c) for c in (await session.scalars(query)).all()]


async def _check_name_free(
    session: AsyncSession, name: str, *, other_than: uuid.UUID | None = None
) -> None:
    query = sa.select(Category.id).where(sa.func.lower(Category.name) == name.lower())
    if other_than is not None:
        query = query.where(Category.id != other_than)
    if await session.scalar(query) is not None:
        raise Conflict("duplicate", f"A category named {name!r} exists already", field="name")


async def create_category(
    session: AsyncSession, *, actor: Principal, data: CategoryCreate
) -> CategoryOut:
    await _check_name_free(session, data.name)
    if data.default_priority is not None:
        await _require_priority(session, data.default_priority, field="default_priority")
    category = Category(
        id=uuid.uuid4(),
        name=data.name,
        description=data.description,
        default_priority=data.default_priority,
        is_active=True,
    )
    await _created(session, category, actor=actor, action="category.created", data=data)
    return _category_out(category)


async def update_category(
    session: AsyncSession, *, actor: Principal, category_id: uuid.UUID, data: CategoryUpdate
) -> CategoryOut:
    category = await _locked(session, Category, category_id, what="Category")
    changes = _requested(data, required=("name", "is_active"))
    if changes.get("name") is not None:
        await _check_name_free(session, changes["name"], other_than=category_id)
    if changes.get("default_priority") is not None:
        await _require_priority(session, changes["default_priority"], field="default_priority")
    _update(
        session, category, changes, actor=actor, action="category.updated", entity_id=category_id
    )
    # Everything CategoryOut shows was set here; the change is flushed at the commit.
    return _category_out(category)


# -- calendar ---------------------------------------------------------------------------


async def get_office_hours(session: AsyncSession) -> list[OfficeWindow]:
    rows = (
        await session.scalars(
            sa.select(OfficeHours).order_by(OfficeHours.weekday, OfficeHours.start_time)
        )
    ).all()
    return [OfficeWindow(weekday=r.weekday, start=r.start_time, end=r.end_time) for r in rows]


async def replace_office_hours(
    session: AsyncSession, *, actor: Principal, data: OfficeHoursIn, timezone: str
) -> list[OfficeWindow]:
    try:
        WorkingCalendar.build(
            timezone=timezone, windows=[(d.weekday, d.start, d.end) for d in data.days]
        )
    except ValueError as exc:
        raise InvalidInput("invalid_office_hours", str(exc), field="days") from exc
    before = await get_office_hours(session)
    # Serialise concurrent replacements: the later one wins whole, never a mix of both.
    await session.execute(sa.text("LOCK TABLE office_hours IN EXCLUSIVE MODE"))
    await session.execute(sa.delete(OfficeHours))
    session.add_all(
        OfficeHours(weekday=d.weekday, start_time=d.start, end_time=d.end) for d in data.days
    )
    await session.flush()
    audit(
        session,
        actor=actor,
        action="office_hours.replaced",
        entity_id="office_hours",
        before={"days": [w.model_dump(mode="json") for w in before]},
        after={"days": [w.model_dump(mode="json") for w in data.days]},
    )
    return await get_office_hours(session)


async def list_holidays(session: AsyncSession, *, year: int | None) -> list[HolidayOut]:
    query = sa.select(Holiday).order_by(Holiday.day)
    if year is not None:
        query = query.where(sa.extract("year", Holiday.day) == year)
    return [
        HolidayOut(id=h.id, date=h.day, name=h.name) for h in (await session.scalars(query)).all()
    ]


async def add_holiday(session: AsyncSession, *, actor: Principal, data: HolidayIn) -> HolidayOut:
    if await session.scalar(sa.select(Holiday.id).where(Holiday.day == data.date)) is not None:
        raise Conflict("duplicate", f"{data.date} is a holiday already", field="date")
    holiday = Holiday(id=uuid.uuid4(), day=data.date, name=data.name)
    await _created(session, holiday, actor=actor, action="holiday.created", data=data)
    return HolidayOut(id=holiday.id, date=holiday.day, name=holiday.name)


async def delete_holiday(session: AsyncSession, *, actor: Principal, holiday_id: uuid.UUID) -> None:
    holiday = await session.get(Holiday, holiday_id)
    if holiday is None:
        raise _not_found("Holiday")
    audit(
        session,
        actor=actor,
        action="holiday.deleted",
        entity_id=holiday_id,
        before={"date": holiday.day, "name": holiday.name},
    )
    await session.delete(holiday)


# -- priority rules ---------------------------------------------------------------------


def _rule_out(rule: PriorityRule) -> PriorityRuleOut:
    return PriorityRuleOut(
        id=rule.id,
        keyword=rule.keyword,
        unit_id=rule.unit_id,
        category_id=rule.category_id,
        priority=rule.priority,
        is_active=rule.is_active,
    )


async def list_rules(session: AsyncSession) -> list[PriorityRuleOut]:
    rules = (await session.scalars(sa.select(PriorityRule).order_by(PriorityRule.created_at))).all()
    return [_rule_out(r) for r in rules]


async def _check_rule_refs(
    session: AsyncSession,
    *,
    priority: str | None,
    unit_id: uuid.UUID | None,
    category_id: uuid.UUID | None,
) -> None:
    if priority is not None:
        await _require_priority(session, priority, field="priority")
    if unit_id is not None and await session.get(DirectoryUnit, unit_id) is None:
        raise InvalidInput("unknown_unit", "Unknown unit (SKPD)", field="unit_id")
    if category_id is not None and await session.get(Category, category_id) is None:
        raise InvalidInput("unknown_category", "Unknown category", field="category_id")


async def create_rule(
    session: AsyncSession, *, actor: Principal, data: PriorityRuleIn
) -> PriorityRuleOut:
    await _check_rule_refs(
        session, priority=data.priority, unit_id=data.unit_id, category_id=data.category_id
    )
    rule = PriorityRule(id=uuid.uuid4(), is_active=True, **data.model_dump())
    await _created(session, rule, actor=actor, action="priority_rule.created", data=data)
    return _rule_out(rule)


async def update_rule(
    session: AsyncSession, *, actor: Principal, rule_id: uuid.UUID, data: PriorityRuleUpdate
) -> PriorityRuleOut:
    rule = await _locked(session, PriorityRule, rule_id, what="Priority rule")
    changes = _requested(data, required=("priority", "is_active"))
    await _check_rule_refs(
        session,
        priority=changes.get("priority"),
        unit_id=changes.get("unit_id"),
        category_id=changes.get("category_id"),
    )
    keyword = changes.get("keyword", rule.keyword)
    unit_id = changes.get("unit_id", rule.unit_id)
    category_id = changes.get("category_id", rule.category_id)
    if keyword is None and unit_id is None and category_id is None:
        raise InvalidInput(
            "empty_rule",
            "A rule needs at least one of keyword, unit_id, category_id",
            field="keyword",
        )
    # Rules have no updated_at: the audit line is their history.
    _update(
        session,
        rule,
        changes,
        actor=actor,
        action="priority_rule.updated",
        entity_id=rule_id,
        touch=False,
    )
    return _rule_out(rule)


async def delete_rule(session: AsyncSession, *, actor: Principal, rule_id: uuid.UUID) -> None:
    rule = await session.get(PriorityRule, rule_id)
    if rule is None:
        raise _not_found("Priority rule")
    audit(
        session,
        actor=actor,
        action="priority_rule.deleted",
        entity_id=rule_id,
        before=_rule_out(rule).model_dump(),
    )
    await session.delete(rule)
