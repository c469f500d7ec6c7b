"""Who hears of a new ticket: every active agent, or a triage group of IT staff with optional
duty hours (set by an administrator, read per event: effective at once on every replica)."""
