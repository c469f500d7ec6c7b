"""Chat channels: a provider's signed webhook (WhatsApp Cloud API, or the generic JSON format)
per channel; each message becomes a ticket or a comment of its conversation's ticket."""
