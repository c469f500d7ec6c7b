"""HTTP headers for downloads (defined once in helpdesk_common.downloads)."""

from helpdesk_common.downloads import attachment_disposition

__all__ = ["attachment_disposition"]
