"""helpdesk_common: the small library every service shares."""
