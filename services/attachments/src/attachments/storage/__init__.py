"""Object storage: any S3-compatible server through the ``minio`` client, off the event loop."""

from attachments.storage.s3 import ObjectStore, StorageUnavailable

__all__ = ["ObjectStore", "StorageUnavailable"]
