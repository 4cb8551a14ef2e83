"""The HTTP client a fetcher sends through, rebuilt when its TLS files change.

An ``httpx.Client`` holds its SSLContext for life, so a renewed client certificate (or
CA bundle) needs a new client. :class:`ReloadingClient` builds it when
:meth:`~ReloadingClient.check` sees a file change (a ``stat`` per file, once per fetch)
or when :meth:`~ReloadingClient.reload` is asked to re-read the files (the server refused
us: ``invalid_client``, a failed handshake), and only if their bytes differ.

Requests run on worker threads (:mod:`oauthbearer.client.exchange`) and one may still be
in flight on the old client when the new one takes over, so each request *leases* the
client it uses; a replaced client is closed when its last lease is released, never under
a request.

New files that cannot be used (unreadable, a key that is not the certificate's) leave the
old client in place: the old certificate is usually still valid for a while. The problem
is logged once (ERROR, naming the variable, never contents) and kept in
:attr:`~ReloadingClient.problem` for the error of a request that then fails.

A client the caller passes in is theirs (:class:`FixedClient`): never replaced, never
closed here.

Example:
    >>> from oauthbearer.client.tls_files import TlsFiles
    >>> clients = ReloadingClient(TlsFiles(), timeout=5.0)
    >>> lease = clients.lease()
    >>> lease.client.is_closed
    False
    >>> lease.release(); clients.close(); lease.client.is_closed
    True
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Protocol

import httpx

from oauthbearer.client.tls_files import Stamp, TlsFiles
from oauthbearer.errors import ConfigurationError

__all__ = ["ClientSource", "FixedClient", "Lease", "ReloadingClient", "new_http_client"]

logger = logging.getLogger("oauthbearer.client")

#: Builds a client around an SSLContext (None: httpx's default verification).
Build = Callable[[ssl.SSLContext | None], httpx.Client]


def new_http_client(context: ssl.SSLContext | None, *, timeout: float) -> httpx.Client:
    """The client a fetcher uses: verifying TLS, no redirects (a token endpoint has none).

    Example:
        >>> new_http_client(None, timeout=5.0).close()
    """
    verify: ssl.SSLContext | bool = True if context is None else context
    return httpx.Client(verify=verify, timeout=timeout, follow_redirects=False)


@dataclass(frozen=True, slots=True)
class Lease:
    """One request's use of ``client``; call ``release`` exactly once, when it is over."""

    client: httpx.Client
    release: Callable[[], None]


class ClientSource(Protocol):
    """Where a fetcher's requests get their HTTP client."""

    @property
    def problem(self) -> ConfigurationError | None:
        """Why changed TLS files are not in use, while they are not."""
        ...

    def lease(self) -> Lease:
        """The client for one request."""
        ...

    def check(self) -> None:
        """Take up changed TLS files, if any (cheap: called before every fetch)."""
        ...

    def reload(self) -> bool:
        """Re-read the TLS files; True if a client with different ones took over."""
        ...

    def close(self) -> None:
        """Close what this source owns."""
        ...


class FixedClient:
    """A client the caller owns: used as it is, never replaced nor closed.

    Example:
        >>> own = httpx.Client()
        >>> FixedClient(own).lease().client is own
        True
    """

    problem = None

    def __init__(self, client: httpx.Client) -> None:
        self._lease = Lease(client, _nothing)

    def lease(self) -> Lease:
        return self._lease

    def check(self) -> None:
        """The caller's client carries the caller's TLS settings: nothing to check."""

    def reload(self) -> bool:
        return False

    def close(self) -> None:
        """The caller closes its own client."""


def _nothing() -> None:
    pass


class _Slot:
    """A client and how many requests use it; ``retired`` once another took over."""

    __slots__ = ("client", "retired", "users")

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.users = 0
        self.retired = False


class ReloadingClient:
    """A client built from the TLS files, replaced when they change. Thread-safe.

    Building the first one raises ConfigurationError naming a bad file; later loads that
    fail keep the current client (see the module's text). ``build`` is the test seam.
    """

    def __init__(self, files: TlsFiles, *, timeout: float, build: Build | None = None) -> None:
        self._files = files
        self._build: Build = partial(new_http_client, timeout=timeout) if build is None else build
        self._lock = threading.Lock()  # the current slot and the lease counts
        self._loading = threading.Lock()  # one load at a time; file I/O outside _lock
        stamp = files.stamp()  # before reading: a change from here on is seen next time
        loaded = files.load()
        self._current = _Slot(self._build(loaded.context))
        self._digest = loaded.digest
        self._tried = stamp  # the files' stamp at the last load, good or bad
        self._problem: ConfigurationError | None = None
        self._closed = False
        self._forked = False  # set in a child process: the client is the parent's
        _RELOADING.add(self)

    @property
    def problem(self) -> ConfigurationError | None:
        return self._problem

    def lease(self) -> Lease:
        if self._forked:
            self._own_client()
        with self._lock:
            slot = self._current
            slot.users += 1
        return Lease(slot.client, partial(self._release, slot))

    def after_fork(self) -> None:
        """In a forked child: new locks, and a client of its own before the next request.

        The parent's pooled keep-alive connections are the parent's: two processes on one
        socket read each other's answers (seen: "a body that is not JSON" in the child).
        The parent's client is dropped without closing it, which would shut the sockets
        the parent still uses.
        """
        self._lock = threading.Lock()
        self._loading = threading.Lock()
        self._forked = True

    def _own_client(self) -> None:
        with self._loading:
            if not self._forked:
                return
            loaded = self._files.load()
            new = _Slot(self._build(loaded.context))
            with self._lock:
                self._current, self._digest = new, loaded.digest
            self._forked = False

    def _release(self, slot: _Slot) -> None:
        with self._lock:
            slot.users -= 1
            idle = slot.retired and slot.users == 0
        if idle:
            slot.client.close()

    def check(self) -> None:
        if not self._files.configured:
            return
        stamp = self._files.stamp()
        if stamp != self._tried:
            self._load(stamp)

    def reload(self) -> bool:
        if not self._files.configured:
            return False
        return self._load(self._files.stamp())

    def _load(self, stamp: Stamp) -> bool:
        with self._loading:
            if self._closed:
                return False
            self._tried = stamp
            try:
                loaded = self._files.load()
            except ConfigurationError as exc:
                self._report(exc)
                return False
            self._problem = None
            if loaded.digest == self._digest:
                return False  # touched or re-published, same bytes: keep the connections
            new = self._build(loaded.context)
            self._digest = loaded.digest
            with self._lock:
                old, self._current = self._current, _Slot(new)
                old.retired = True
                idle = old.users == 0
        if idle:
            old.client.close()
        logger.info("token endpoint TLS files changed: new connections use them")
        return True

    def _report(self, exc: ConfigurationError) -> None:
        # Once per distinct problem: fetches retry every few seconds during an outage.
        if self._problem is None or str(self._problem) != str(exc):
            logger.error(
                "token endpoint TLS files changed but cannot be used, the previous "
                "ones stay in use: %s",
                exc,
            )
        self._problem = exc

    def close(self) -> None:
        """Close the client now, or when the requests still using it are over."""
        with self._loading, self._lock:
            self._closed = True
            slot = self._current
            slot.retired = True
            idle = slot.users == 0
        if idle:
            slot.client.close()


#: Every client source of this process that builds its own clients, for the fork hook.
_RELOADING: weakref.WeakSet[ReloadingClient] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for source in list(_RELOADING):
        source.after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
