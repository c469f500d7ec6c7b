"""The attachments service: files on tickets, checked by content, scanned and stored in S3."""
