"""Files on tickets: upload (streamed, checked, scanned), list, download, delete."""
