"""Malware scanning: files streamed to clamd (ClamAV's daemon) over TCP."""

from attachments.scanning.clamd import (
    ScannerUnavailable,
    ScanResult,
    scan_file,
    scan_stream,
    scanner_ready,
)

__all__ = ["ScanResult", "ScannerUnavailable", "scan_file", "scan_stream", "scanner_ready"]
