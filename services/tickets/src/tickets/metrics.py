"""Domain metrics of the tickets service (next to the HTTP and event metrics of the app)."""

from prometheus_client import Counter, Histogram

# Counted after the transaction committed: refused and rolled-back attempts do not count.
TICKET_ACTIONS = Counter(
    "tickets_actions_total",
    "Committed ticket changes by action (create, claim, resolve ...)",
    ["action"],
)
SLA_EVENTS = Counter(
    "tickets_sla_events_total",
    "SLA events fired by the scheduler (sla_warning, sla_breached, escalated, auto_close)",
    ["event", "target"],
)
SCHEDULER_ROUND = Histogram(
    "tickets_scheduler_round_seconds",
    "Duration of one SLA scheduler round",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
