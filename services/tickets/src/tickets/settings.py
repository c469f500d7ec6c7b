"""Settings of the tickets service (environment variables prefixed ``TICKETS_``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from helpdesk_common.settings import ServiceSettings


class TicketsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TICKETS_", extra="ignore")

    service_name: str = "tickets"
    # It serves the internal API (GET /internal/ticket-snapshots): production refuses to
    # start without TICKETS_INTERNAL_TOKEN (empty elsewhere: that API answers 403).
    needs_internal_token: ClassVar[bool] = True
    # The write path (create, lifecycle actions, edits, comments, the SLA scheduler) runs
    # plain SQL on this asyncpg pool; reads, master data and the relay use SQLAlchemy's
    # (db_pool_size).
    # Requests beyond it wait for a connection; none are opened and closed per request.
    db_driver_pool_size: int = 20

    # Office hours and holidays are wall-clock times in this zone; ticket numbers take
    # their year from it too.
    timezone: str = "Asia/Jakarta"
    number_prefix: str = "TKT"
    web_base_url: str | None = Field(
        default=None, description="public URL of the web client, for links in events"
    )

    # SLA: warn at this share of a target, escalate at this share (1.0 = at the breach).
    sla_warning_ratio: float = Field(default=0.75, gt=0, lt=1)
    sla_escalation_ratio: float = Field(default=1.0, ge=1)
    escalation_roles: list[str] = ["leader"]
    # Resolved tickets that nobody confirms or reopens close after this many days.
    auto_close_days: float = Field(default=3, gt=0)
    # A reply by mail or chat (POST /internal/intake/comments) to a resolved ticket reopens
    # it before the comment is added; false: the comment only (the ticket stays resolved).
    reopen_on_reply: bool = True
    run_scheduler: bool = True
    scheduler_interval_seconds: float = Field(default=30, gt=0)
    # How often the open backlog per status is counted for the metric tickets_open.
    open_backlog_metric_seconds: float = Field(default=60, gt=0)
    scheduler_batch_size: int = Field(default=100, ge=1)

    # Master data (categories, priorities, SLA, calendar, rules) is cached per process;
    # a change made through another replica is seen after at most this long.
    masterdata_cache_seconds: float = Field(default=10, ge=0)

    # Fine-grained rights as policy: action -> roles, replacing the built-in defaults
    # (see tickets.tickets.policy), e.g. TICKETS_POLICY_OVERRIDES='{"reassign": ["admin"]}'.
    policy_overrides: dict[str, list[str]] = {}
    # Roles that may change a ticket someone else holds (status changes, edits; see
    # tickets.tickets.policy.HOLDER_ACTIONS); everyone else leaves a held ticket to its
    # holder, or has it reassigned. E.g. TICKETS_HELD_TICKET_OVERRIDE_ROLES='["admin"]'.
    held_ticket_override_roles: list[str] = ["admin"]

    # GET /stream (live ticket changes): a heartbeat comment this often keeps proxies from
    # closing an idle stream; a stream ends after stream_max_seconds (the browser reconnects
    # with a fresh token, so a changed role applies); a stream more than stream_backlog
    # changes behind is told to fetch everything again instead.
    stream_heartbeat_seconds: float = Field(default=15, gt=0)
    stream_max_seconds: float = Field(default=600, gt=0)
    stream_backlog: int = Field(default=200, ge=1)

    # Counts on lists and saved views are exact up to this many tickets, then "N+"
    # (the database stops counting there, so a count stays cheap with millions of tickets).
    count_threshold: int = Field(default=10_000, ge=1)
    # The first page of GET /tickets answers within about this long (ms): its count gets
    # what the page's own query left of it. A count of a full-text match with another
    # filter reads every candidate row (up to 160 ms at a million tickets) where the page
    # takes a few; past the budget the page says total_deferred and the client asks
    # GET /tickets/count. 0 never counts on the first page.
    first_page_budget_ms: int = Field(default=25, ge=0)
    # GET /tickets/count's bound (ms): past it {"total": null, "total_exact": false}.
    count_timeout_ms: int = Field(default=5_000, ge=1)
    # Saved views per user: each is counted on every GET /views.
    views_max_per_user: int = Field(default=30, ge=1)

    page_size_default: int = 25
    page_size_max: int = 100
