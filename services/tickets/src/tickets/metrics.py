"""Domain metrics of the tickets service (next to the HTTP and event metrics of the app)."""

from prometheus_client import Counter, Gauge, Histogram

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
# The open backlog per status (new, in_progress, pending), counted every
# open_backlog_metric_seconds by each replica (tickets.tickets.backlog): dashboards take the max.
OPEN_TICKETS = Gauge("tickets_open", "Open tickets by status", ["status"])
SCHEDULER_ROUND = Histogram(
    "tickets_scheduler_round_seconds",
    "Duration of one SLA scheduler round",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
# The first page's count ran out of its time budget (TICKETS_FIRST_PAGE_BUDGET_MS): the page
# said total_deferred and the client asks GET /tickets/count. Expected with q and a filter
# over many tickets; a share that grows says the budget or an index needs a look.
LIST_COUNTS_DEFERRED = Counter(
    "tickets_list_counts_deferred_total",
    "First pages of the ticket list whose count ran out of its time budget",
)
# GET /tickets/count ran out of TICKETS_COUNT_TIMEOUT_MS and answered total null.
LIST_COUNTS_TIMED_OUT = Counter(
    "tickets_list_counts_timed_out_total",
    "Counts of GET /tickets/count that ran out of their time bound",
)
