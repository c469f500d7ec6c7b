"""The object store: generic S3 (path-style, any endpoint: SeaweedFS, MinIO, a cloud's S3)
through the ``minio`` client.

The client is synchronous (urllib3) and its maintainers will not add asyncio, so every call
runs in a worker thread of this store's own pools (so storage cannot starve other users of
threads): whole-file uploads in ``s3_upload_threads`` threads, everything else (downloads'
chunks, the scanner's reads, small calls) in ``s3_threads``, so a burst of uploads never
stalls downloads or scanning. Plain executors rather than anyio's ``to_thread``: a task
cancelled while its call runs (a shutdown) must end at once, the thread finishing alone
(anyio's shielded wait was seen to hang a shutdown). Downloads are read in chunks,
each in a thread, so a slow client never holds more than a chunk in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import logging
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.error import S3Error

from attachments.settings import AttachmentsSettings

log = logging.getLogger("helpdesk.attachments.storage")

T = TypeVar("T")
CHUNK = 256 * 1024
PRESIGN_EXPIRY = timedelta(minutes=15)


class StorageUnavailable(Exception):
    """The object store could not be reached or refused the request (answered 503)."""


class ObjectMissing(Exception):
    """No object under that key."""


@dataclass
class ObjectStore:
    client: Minio
    bucket: str
    executor: ThreadPoolExecutor
    upload_executor: ThreadPoolExecutor
    http: urllib3.PoolManager

    async def _call(
        self,
        fn: Callable[..., T],
        *args: Any,
        executor: ThreadPoolExecutor | None = None,
        **kwargs: Any,
    ) -> T:
        call = functools.partial(fn, *args, **kwargs)
        try:
            return await asyncio.get_running_loop().run_in_executor(executor or self.executor, call)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject"):
                raise ObjectMissing(exc.code) from exc
            raise StorageUnavailable(f"S3 refused: {exc.code}") from exc
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            raise StorageUnavailable(f"S3 unreachable: {type(exc).__name__}: {exc}") from exc

    async def ensure_bucket(self) -> None:
        if not await self._call(self.client.bucket_exists, self.bucket):
            with contextlib.suppress(StorageUnavailable):  # made by another replica meanwhile
                await self._call(self.client.make_bucket, self.bucket)

    async def put_file(self, key: str, path: Path, *, content_type: str) -> None:
        """Stream a file to the store in one PUT with a presigned URL. minio's own
        ``put_object`` reads each part (5 MiB or more) into memory to sign it; a presigned
        PUT signs only the URL, so the body goes from disk to the socket in small blocks
        whatever the file's size (every S3 implementation accepts it)."""

        def put() -> None:
            url = self.client.presigned_put_object(self.bucket, key, expires=PRESIGN_EXPIRY)
            with path.open("rb") as source:
                response = self.http.request(
                    "PUT",
                    url,
                    body=source,
                    headers={
                        "Content-Length": str(path.stat().st_size),
                        "Content-Type": content_type,
                    },
                    retries=False,
                )
            if response.status >= 300:
                raise StorageUnavailable(f"S3 PUT answered {response.status}")

        await self._call(put, executor=self.upload_executor)

    async def put_bytes(self, key: str, data: bytes, *, content_type: str) -> None:
        await self._call(
            self.client.put_object,
            self.bucket,
            key,
            io.BytesIO(data),
            length=len(data),
            content_type=content_type,
        )

    async def remove(self, key: str) -> None:
        """Idempotent: removing a missing object is no error."""
        with contextlib.suppress(ObjectMissing):
            await self._call(self.client.remove_object, self.bucket, key)

    async def exists(self, key: str) -> bool:
        try:
            await self._call(self.client.stat_object, self.bucket, key)
        except ObjectMissing:
            return False
        return True

    async def open(self, key: str, *, offset: int = 0, length: int = 0) -> urllib3.BaseHTTPResponse:
        """The object's bytes (``offset``/``length``: a range), as an open response; the
        caller reads it with :func:`chunks` and must release it."""
        return await self._call(
            self.client.get_object, self.bucket, key, offset=offset, length=length
        )

    async def chunks(self, response: urllib3.BaseHTTPResponse) -> AsyncGenerator[bytes]:
        try:
            while True:
                chunk = await self._call(response.read, CHUNK)
                if not chunk:
                    return
                yield chunk
        finally:
            response.close()
            response.release_conn()

    async def read_all(self, key: str) -> bytes:
        """A small object (a thumbnail) whole."""
        response = await self.open(key)
        return b"".join([chunk async for chunk in self.chunks(response)])

    def close(self) -> None:
        """Let the threads go (what runs finishes; nothing new starts)."""
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.upload_executor.shutdown(wait=False, cancel_futures=True)


def create_store(settings: AttachmentsSettings) -> ObjectStore:
    endpoint = urlsplit(settings.s3_endpoint)
    timeout = urllib3.Timeout(
        connect=min(5.0, settings.s3_timeout_seconds), read=settings.s3_timeout_seconds
    )
    http = urllib3.PoolManager(
        timeout=timeout,
        # Open downloads keep their connection between chunks: room for many at once.
        maxsize=settings.s3_max_connections,
        # Retries are the caller's (a failed upload is answered 503 and retried by the
        # client with its Idempotency-Key): urllib3's own would hold a request for long.
        retries=urllib3.Retry(total=1, connect=1, read=0, backoff_factor=0.2),
    )
    client = Minio(
        endpoint.netloc,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key,
        secure=endpoint.scheme == "https",
        region=settings.s3_region,
        http_client=http,
    )
    return ObjectStore(
        client=client,
        bucket=settings.s3_bucket,
        executor=ThreadPoolExecutor(settings.s3_threads, thread_name_prefix="s3"),
        upload_executor=ThreadPoolExecutor(
            settings.s3_upload_threads, thread_name_prefix="s3-upload"
        ),
        http=http,
    )
