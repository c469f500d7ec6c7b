"""Outbound webhooks: events POSTed to other systems' URLs, signed, in order per ticket,
retried with back-off, with a delivery log."""
