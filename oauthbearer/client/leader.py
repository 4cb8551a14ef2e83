"""The one fetch for a cache slot of a TokenProvider, and how it ends.

Whoever finds a token missing or due claims the slot's ``fetching`` flag and becomes the
leader; :class:`FetchLeader` then fetches, records the outcome on the slot (token and
refresh point, or failure and backoff), wakes everyone waiting, and logs what happened.
Callers without a token wait for the leader (:meth:`FetchLeader.wait`) instead of
fetching themselves: one request per refresh cycle for every client sharing the cache.

Example:
    >>> # leader.fetch(still_valid=None, deadline=monotonic() + 8)  -> Token, or None to retry
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from oauthbearer.client.failures import failure_fields
from oauthbearer.client.fetcher import TokenFetcher
from oauthbearer.client.metrics import MetricsHook, outcome_of
from oauthbearer.client.rotation import RefreshHeldBack
from oauthbearer.client.schedule import backoff, retryable
from oauthbearer.client.schedule import refresh_at as schedule_refresh
from oauthbearer.client.settings import ClientSettings
from oauthbearer.client.token import Token
from oauthbearer.client.token_cache import TokenSlot
from oauthbearer.errors import OAuthBearerError, TokenRequestError

__all__ = ["FetchLeader"]

logger = logging.getLogger("oauthbearer.client")

_WAIT_SLICE = 1.0  # real seconds between re-checks while waiting for another fetch


class FetchLeader:
    """Fetches for ``slot`` and records the outcome there (the slot's ``cond`` guards it)."""

    def __init__(
        self,
        settings: ClientSettings,
        fetcher: TokenFetcher,
        slot: TokenSlot,
        *,
        clock: Callable[[], float],
        monotonic: Callable[[], float],
        random: Callable[[], float],
        metrics: MetricsHook,
        principal: Callable[[Token], str],
    ) -> None:
        self._settings = settings
        self._fetcher = fetcher
        self._slot = slot
        self._clock = clock
        self._monotonic = monotonic
        self._random = random
        self._metrics = metrics
        self._principal = principal

    def wait(self, remaining: float) -> None:
        """Wait (lock held) for the fetch in flight; raise its error if it is final."""
        slot = self._slot
        if remaining <= 0:
            raise self.last_error()
        seen = slot.generation
        slot.cond.wait(min(remaining, _WAIT_SLICE))
        error = slot.last_error
        if slot.generation != seen and error is not None and not retryable(error):
            raise _fresh(error)  # the shared outcome of the fetch we waited for

    def fetch(self, still_valid: Token | None, deadline: float) -> Token | None:
        """Do the one fetch. Returns a token to hand out, or None to go round again.

        ``still_valid``: the token in hand when this is a refresh (it is handed out again
        if the refresh fails); ``deadline``: when a caller without a token gives up, in
        monotonic seconds.
        """
        slot = self._slot
        budget = self._settings.timeout
        if still_valid is None:
            budget = max(0.1, min(budget, deadline - self._monotonic()))
        started = time.perf_counter()
        try:
            token = self._fetcher.fetch(timeout=budget)
        except OAuthBearerError as exc:
            self._metrics.fetch_finished(
                outcome=outcome_of(exc), seconds=time.perf_counter() - started
            )
            tick = self._monotonic()
            held_back = isinstance(exc, RefreshHeldBack)
            with slot.cond:
                if held_back:
                    # Nothing was sent: a refresh given up on may still rotate the token,
                    # and that exchange ends within one more budget. Looked at again after
                    # the backoff's base, and not counted: counted, the hold-backs of one
                    # budget grew the backoff, and the first real attempt after it could
                    # come 8-16 s late.
                    delay = self._settings.backoff_base
                    slot.failed(exc, retry_at=tick + delay, counted=False)
                else:
                    failures = slot.failures + 1
                    delay = backoff(self._settings, failures=failures, exc=exc, draw=self._random())
                    slot.failed(exc, retry_at=tick + delay)
                left = slot.valid_until - tick
            retry_in = delay
            if still_valid is not None and left <= 0:
                # The token expired while its refresh ran (a hung endpoint holds a refresh
                # for the whole timeout): handed back, librdkafka refused it and blamed
                # the callback. It is not ours to give any more: go on as without one.
                logger.error(  # noqa: TRY400 - the cause is in the line; a traceback adds none
                    "token refresh failed and the current token (%s) expired meanwhile: %s",
                    still_valid.fingerprint,
                    exc,
                    extra=failure_fields(exc),
                )
                still_valid = None
            elif still_valid is not None and held_back:
                # The timeout that caused it was logged; one line per look would be noise.
                logger.debug("token refresh held back, next look in %.1f s", retry_in)
                return still_valid
            if still_valid is not None:
                logger.warning(
                    "token refresh failed, keeping the current token (%s, valid %.0f s more); "
                    "next attempt in %.1f s: %s",
                    still_valid.fingerprint,
                    left,
                    retry_in,
                    exc,
                    extra=failure_fields(exc),
                )
                return still_valid
            if retryable(exc) and tick + retry_in < deadline:
                logger.info("token fetch failed, retrying in %.1f s: %s", retry_in, exc)
                return None
            raise
        except BaseException:
            with slot.cond:
                slot.abandoned()
            raise
        # The schedule runs on the monotonic clock, from when the answer arrived (the
        # fetcher stamped issued_at with the wall clock at the same moment).
        received = self._monotonic()
        self._metrics.fetch_finished(outcome="ok", seconds=time.perf_counter() - started)
        self._metrics.token_updated(expires_at=token.expires_at)
        refresh_at = schedule_refresh(
            self._settings, issued_at=received, lifetime=token.lifetime, draw=self._random()
        )
        refresh_from = schedule_refresh(
            self._settings, issued_at=received, lifetime=token.lifetime, draw=0.0
        )
        with slot.cond:
            slot.fetched(
                token,
                valid_until=received + token.lifetime,
                refresh_at=refresh_at,
                refresh_from=refresh_from,
            )
        logger.info(
            "token %s from %s: principal=%s, expires in %.0f s, refresh in %.0f s",
            token.fingerprint,
            self._fetcher.endpoint_host,
            self._principal(token),
            token.lifetime,
            refresh_at - received,
        )
        return token

    def last_error(self) -> OAuthBearerError:
        """The error to raise for a caller that gave up: the last fetch's, or a timeout."""
        error = self._slot.last_error
        if error is not None:
            return _fresh(error)
        return TokenRequestError(self._fetcher.endpoint_host, "gave up waiting for a token")


def _fresh(exc: OAuthBearerError) -> OAuthBearerError:
    # The same instance is raised again for every caller during an outage; re-raising it
    # as is would chain each raise onto its traceback and keep every frame alive for hours.
    return exc.with_traceback(None)
