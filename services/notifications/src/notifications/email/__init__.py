"""E-mail deliveries: rendering, queueing and sending over SMTP."""
