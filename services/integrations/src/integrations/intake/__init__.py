"""Clients of the other services' internal APIs used by the intake channels (mail, chat):
tickets and comments (tickets_api), files (attachments_api)."""
