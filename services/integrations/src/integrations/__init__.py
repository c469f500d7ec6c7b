"""The integrations service: requests that arrive by e-mail (IMAP mailboxes) or through a
chat provider's signed webhook become tickets and comments through the tickets service's
internal API; outbound webhooks deliver events to other systems, signed and retried."""
