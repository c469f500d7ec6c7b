"""Settings of the reports service (environment variables prefixed ``REPORTS_``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from helpdesk_common.settings import ServiceSettings


class ReportsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REPORTS_", extra="ignore")

    service_name: str = "reports"
    # It calls the tickets service's internal API (the rebuild): production refuses to start
    # without REPORTS_INTERNAL_TOKEN.
    needs_internal_token: ClassVar[bool] = True
    # Days, weeks, months and years are the office's: periods are cut in this time zone.
    timezone: str = "Asia/Jakarta"
    # Ticket events waiting in the prefetch window are projected together, up to this many
    # in one transaction: one pass over the read model per batch, not per event.
    consumer_batch_size: int = Field(default=200, ge=1)
    consumer_prefetch: int = 400
    # Two batches in flight (prefetch / batch size) and the report queries; the LISTEN and
    # the rebuild leader hold a connection each besides.
    db_pool_size: int = 8
    db_max_overflow: int = 4

    # The system of record the read model is rebuilt from (the tickets service's
    # services-only backfill API, authenticated with ``internal_token``).
    tickets_url: str = "http://127.0.0.1:8102"
    rebuild_page_size: int = Field(default=1000, ge=1, le=2000)
    # Build the read model from the tickets service when none was ever built (a fresh
    # deployment of this service next to existing tickets).
    rebuild_on_first_start: bool = True
    # Rows of a replaced read model deleted per transaction after a rebuild.
    purge_batch_size: int = Field(default=5000, ge=1)

    # Live dashboard: a client hears of a change at most this often.
    stream_min_interval: float = Field(default=1.0, ge=0)
    stream_heartbeat_seconds: float = Field(default=15.0, gt=0)
    # Medians and p90 of up to this many tickets are exact (their durations sorted); beyond,
    # they are estimated from the duration histograms (readmodel/histogram.py).
    exact_percentile_limit: int = Field(default=20_000, ge=0)
    # A report query that runs longer than this is cancelled (503), never stalls the service.
    query_timeout_seconds: float = Field(default=10.0, gt=0)
    # How often an idle replica looks for a rebuild asked for on another replica.
    rebuild_poll_seconds: float = Field(default=2.0, gt=0)

    # Exports (exports/): the completed-work PDF lists at most this many tickets (the CSV
    # has them all); the completed CSV reads the tickets this many per query.
    pdf_completed_max_rows: int = Field(default=2000, ge=1)
    csv_page_size: int = Field(default=1000, ge=1, le=10_000)

    # Scheduled reports (schedules/): a period's report is due at this hour (office-local)
    # on the day after the period ends; replicas look for due schedules this often.
    schedule_send_hour: int = Field(default=7, ge=0, le=23)
    schedule_poll_seconds: float = Field(default=30.0, gt=0)
    # A period whose report fails this many times in a row is recorded as failed and the
    # schedule moves on (retried meanwhile after schedule_poll_seconds, doubling each time).
    schedule_max_attempts: int = Field(default=5, ge=1)
