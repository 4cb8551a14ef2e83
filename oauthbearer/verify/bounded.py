"""HTTP answers read with a bound on their size, for the sidecar's upstream calls.

An introspection answer or a JWKS document is a few kilobytes. One the authorization
server (or something in front of it) makes 50 MiB was read whole, passed to the broker
and cached. :func:`bounded_request` stops reading past :data:`MAX_ANSWER_BYTES` (refused
before reading when ``Content-Length`` already says so), as the client half does for
token answers. The bound is on the bytes that arrive: it asks for no compression
(``Accept-Encoding: identity``) and refuses a compressed answer, because httpx decodes
before the bound could count, and 200 KB of gzip became 200 MiB in memory.

Example:
    >>> import asyncio, httpx
    >>> def handler(request):
    ...     return httpx.Response(200, content=b"x" * (MAX_ANSWER_BYTES + 1))
    >>> async def main():
    ...     async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
    ...         try:
    ...             await bounded_request(client, "GET", "https://idp.example/jwks")
    ...         except AnswerTooLarge as exc:
    ...             return str(exc)
    >>> asyncio.run(main())
    'answer larger than 1048576 bytes'
"""

from __future__ import annotations

from typing import Any

import httpx

__all__ = ["MAX_ANSWER_BYTES", "AnswerRefused", "AnswerTooLarge", "bounded_request"]

#: The most an upstream answer may hold (the client's bound on token answers too).
MAX_ANSWER_BYTES = 1 << 20


class AnswerRefused(Exception):
    """The answer was not read whole; the message says why (fit for logs)."""


class AnswerTooLarge(AnswerRefused):
    """The answer is over :data:`MAX_ANSWER_BYTES`; nothing more of it was read."""

    def __init__(self) -> None:
        super().__init__(f"answer larger than {MAX_ANSWER_BYTES} bytes")


class AnswerCompressed(AnswerRefused):
    """The answer came compressed although none was asked for: not read at all."""

    def __init__(self, encoding: str) -> None:
        super().__init__(f"answer compressed ({encoding[:20]!r}) though identity was asked for")


async def bounded_request(
    client: httpx.AsyncClient, method: str, url: str, **kwargs: Any
) -> tuple[int, bytes]:
    """``(status, body)`` of one request; :class:`AnswerRefused` past the bound or when
    the answer is compressed.

    ``kwargs`` are :meth:`httpx.AsyncClient.stream`'s (``headers`` a dict); its
    exceptions pass through.
    """
    kwargs["headers"] = {**kwargs.get("headers", {}), "Accept-Encoding": "identity"}
    async with client.stream(method, url, **kwargs) as response:
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding != "identity":
            raise AnswerCompressed(encoding)
        declared = response.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > MAX_ANSWER_BYTES:
            raise AnswerTooLarge
        chunks: list[bytes] = []
        size = 0
        # Not compressed (judged above), so these are the bytes as they arrived.
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise AnswerTooLarge
            chunks.append(chunk)
        return response.status_code, b"".join(chunks)
