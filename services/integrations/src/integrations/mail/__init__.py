"""E-mail to ticket: administrators' IMAP mailboxes, polled; each new message becomes a ticket
or a public comment through the tickets service's internal API."""
