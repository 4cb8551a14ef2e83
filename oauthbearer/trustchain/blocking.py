"""A synchronous face for an async verifier, for consumer loops that are not async.

confluent-kafka's ``poll()`` loop is sync, while the verifiers are async (they share the
sidecar's async JWKS store). :class:`BlockingVerifier` runs the verifier on ONE private
event loop in a daemon thread for its whole life, and each call hands a coroutine to it
(``asyncio.run_coroutine_threadsafe``): no loop is created per call, the JWKS keys and the
HTTP connection pool are reused, and any number of threads may call it at once.

Example:
    >>> from oauthbearer.trustchain.verifiers import JwksVerifier
    >>> with BlockingVerifier(JwksVerifier("https://idp.example/jwks",  # doctest: +ELLIPSIS
    ...                       issuer="https://idp.example", audiences="urn:x")) as v:
    ...     v.verify("opaque-string")
    Traceback (most recent call last):
    ...
    oauthbearer.errors.TokenRejected: token sha256:... refused (malformed): not a JWT...
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from types import TracebackType

from oauthbearer.errors import UpstreamUnavailable
from oauthbearer.trustchain.claims import VerifiedClaims
from oauthbearer.trustchain.verifiers import Verifier

__all__ = ["BlockingVerifier"]


class BlockingVerifier:
    """``verify()`` blocks the calling thread; the work runs on a private loop thread.

    ``timeout`` bounds one call (JWKS fetch or introspection included); past it the call
    raises :class:`~oauthbearer.errors.UpstreamUnavailable`. Close it (or use ``with``)
    to stop the thread and the verifier's HTTP client.
    """

    def __init__(self, verifier: Verifier, *, timeout: float = 10.0) -> None:
        self.verifier = verifier
        self._timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="oauthbearer-trustchain", daemon=True
        )
        self._thread.start()
        self._closed = False

    def verify(
        self,
        token: str,
        *,
        at: float | None = None,
        leeway: float | None = None,
        grace: float = 0.0,
    ) -> VerifiedClaims:
        """As the async verifier's ``verify``, from any thread but the loop's own."""
        if self._closed:
            raise RuntimeError("BlockingVerifier is closed")
        future = asyncio.run_coroutine_threadsafe(
            self.verifier.verify(token, at=at, leeway=leeway, grace=grace), self._loop
        )
        try:
            return future.result(self._timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise UpstreamUnavailable(
                f"token verification did not finish within {self._timeout:g} s"
            ) from None

    def close(self) -> None:
        """Close the verifier's HTTP client, stop the loop and join its thread."""
        if self._closed:
            return
        self._closed = True
        try:
            asyncio.run_coroutine_threadsafe(self.verifier.aclose(), self._loop).result(
                self._timeout
            )
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(self._timeout)
            if not self._thread.is_alive():
                self._loop.close()

    def __enter__(self) -> BlockingVerifier:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
