"""Who hears what: turns ticket events into e-mails and in-app notifications."""
