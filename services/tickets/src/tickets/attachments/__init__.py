"""The files on each ticket, as the attachments service's events tell them: the local table
``ticket_attachments``, the ticket's timeline lines and the submission form's list."""
