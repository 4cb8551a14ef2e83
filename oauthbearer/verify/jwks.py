"""The signing keys of the authorization server, fetched from its JWKS URL and kept fresh.

* Refreshed every ``refresh_interval`` seconds by a background task (started in the app's
  lifespan); a key the server removed stops verifying after the next refresh.
* A token whose ``kid`` we do not know triggers an immediate refetch — the server may
  just have rotated — but at most once per ``min_refetch_interval``, so a flood of tokens
  with invented ``kid`` values cannot turn us into a JWKS hammer (Kafka's own validator
  uses the same rule, CONTRACT.md §5). Concurrent refetches are collapsed into one.
* A failed refresh keeps the previous keys: an IdP blip must not log every broker out.
  So does a document listing no keys at all, for up to ``KEEP_THROUGH_EMPTY_REFRESHES``
  refresh intervals after the last set with keys (then they are dropped, at ERROR).

Only keys usable for signatures are kept (``use`` absent or ``sig``). Keys are parsed
with joserfc; its exceptions stop here.

Example:
    >>> store = JwksStore("https://idp.example/jwks", client=None, clock=lambda: 0.0)
    >>> store.load({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]})
    0
    >>> store.loaded
    True
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from joserfc import jwk

from oauthbearer._json import NOT_JSON
from oauthbearer._secret import display_url
from oauthbearer.errors import UpstreamUnavailable
from oauthbearer.verify.bounded import AnswerRefused, bounded_request

__all__ = ["JwksStore"]

# The sidecar's logger name is kept across the move to oauthbearer.verify: operators
# filter the sidecar's JSON log lines on it.
logger = logging.getLogger("oauthbearer.sidecar.jwks")

Clock = Callable[[], float]
Observer = Callable[[str], None]

# Key types whose keys verify asymmetric signatures; "oct" (HMAC secrets) never belongs in
# a public JWKS and is dropped, which also rules out HS* algorithm confusion at the source.
_ASYMMETRIC = frozenset({"RSA", "EC", "OKP"})


#: How many refresh intervals the keys last fetched are kept while the JWKS lists none.
KEEP_THROUGH_EMPTY_REFRESHES = 3


class JwksStore:
    """Current keys by ``kid``, with periodic and on-demand (rate-limited) refresh."""

    def __init__(
        self,
        url: str,
        *,
        client: httpx.AsyncClient | None,
        clock: Clock,
        refresh_interval: float = 300.0,
        min_refetch_interval: float = 10.0,
        timeout: float = 3.0,
        observe: Observer | None = None,
        on_keys_removed: Callable[[list[str | None]], None] | None = None,
    ) -> None:
        self.url = url
        #: The URL as logs and errors show it: no user:password@, no query (display_url).
        self.shown = display_url(url)
        # Called (with the kids) when a refresh drops a key or changes the key behind a
        # kid: whatever was verified with it must not outlive it (the sidecar's cache).
        self._on_keys_removed = on_keys_removed
        self._client = client
        self._clock = clock
        self._refresh_interval = refresh_interval
        self._min_refetch_interval = min_refetch_interval
        self._timeout = timeout
        self._observe = observe
        self._keys: dict[str | None, list[jwk.Key]] = {}
        # When a fetch last brought a non-empty key set: an empty one is not taken for a
        # withdrawal of every key until KEEP_THROUGH_EMPTY_REFRESHES intervals after it.
        self._confirmed_at: float | None = None
        # Only unknown-kid refetches count against the rate limit: a periodic refresh
        # a second ago must not stop us from picking up a key rotated in since.
        self._last_refetch: float | None = None
        self._last_refetch_failed = False
        self._first_load_failed_at: float | None = None  # load_first's rate limit
        self._inflight: asyncio.Task[None] | None = None
        self._inflight_for_unknown_kid = False  # was the fetch in flight started for a kid?
        self.loaded = False
        self.fetches = 0
        #: Incremented whenever the key set is replaced: what was derived from the keys
        #: (the validator's keys per kid and algorithm) is stale once it changes.
        self.generation = 0

    def bind(self, client: httpx.AsyncClient) -> None:
        """Attach the shared HTTP client (opened in the app's lifespan)."""
        self._client = client

    def keys_for(self, kid: str | None) -> list[jwk.Key]:
        """Keys that may have signed a token with this ``kid`` (every key if it has none)."""
        if kid is None:
            return [k for keys in self._keys.values() for k in keys]
        return list(self._keys.get(kid, ()))

    def load(self, document: Mapping[str, Any]) -> int:
        """Replace the key set with the usable keys of a JWKS document; returns how many."""
        return self._replace(self._usable_keys(document))

    def _usable_keys(self, document: Mapping[str, Any]) -> dict[str | None, list[jwk.Key]]:
        """The document's keys that can verify a signature, by ``kid``; ValueError if it
        is no JWKS at all. Unusable keys are logged and skipped."""
        raw_keys = document.get("keys") if isinstance(document, Mapping) else None
        if not isinstance(raw_keys, list):
            raise ValueError("JWKS document has no 'keys' array")  # noqa: TRY004 - bad data
        keys: dict[str | None, list[jwk.Key]] = {}
        for raw in raw_keys:
            if not isinstance(raw, dict) or raw.get("kty") not in _ASYMMETRIC:
                continue
            if raw.get("use", "sig") != "sig":
                continue
            kid_shown = raw.get("kid") if isinstance(raw.get("kid"), str) else None
            # A JWKS publishes public keys only. Any private member, not only "d" (which
            # joserfc's is_private looks at): a published p or q gives the key away.
            if _PRIVATE_MEMBERS.intersection(raw):
                logger.warning("skipping JWKS key kid=%s: it carries private material", kid_shown)
                continue
            try:
                key = jwk.import_key(raw)
            # Anything: one key of a kind joserfc does not know (an EC curve such as
            # brainpoolP256r1 raised KeyError) made the whole set unloadable.
            except Exception as exc:  # noqa: BLE001 - that key is skipped, the rest load
                logger.warning(
                    "skipping unusable JWKS key kid=%s: %s", kid_shown, type(exc).__name__
                )
                continue
            too_small = _weak_rsa(key)
            if too_small is not None:
                # RFC 7518 §3.3: RS*/PS* keys MUST be 2048 bits or larger.
                logger.warning(
                    "skipping JWKS key kid=%s: RSA %d bits, under 2048", kid_shown, too_small
                )
                continue
            kid = raw.get("kid") if isinstance(raw.get("kid"), str) else None
            keys.setdefault(kid, []).append(key)
        return keys

    def _replace(self, keys: dict[str | None, list[jwk.Key]]) -> int:
        previous, self._keys = self._keys, keys
        self.generation += 1
        self.loaded = True
        removed = _removed(previous, keys)
        if removed and self._on_keys_removed is not None:
            self._on_keys_removed(removed)
        return sum(len(v) for v in keys.values())

    async def refresh(self, *, for_unknown_kid: bool = False) -> None:
        """Fetch the JWKS now (joining a fetch already in flight)."""
        if self._inflight is None or self._inflight.done():
            self._inflight = asyncio.ensure_future(self._fetch())
            self._inflight_for_unknown_kid = for_unknown_kid
        await asyncio.shield(self._inflight)

    async def load_first(self) -> None:
        """Fetch a key set never loaded yet, for a token that needs it.

        Rate-limited like unknown-kid refetches: within ``min_refetch_interval`` of an
        attempt that failed, :class:`UpstreamUnavailable` at once. Before, every token
        (anyone's, signed or not) fetched the JWKS of an identity provider already failing.
        """
        if self.loaded:
            return
        if self._inflight is not None and not self._inflight.done():
            await self.refresh()  # share the fetch on its way (the periodic one, say)
            return
        failed_at = self._first_load_failed_at
        if failed_at is not None and self._clock() - failed_at < self._min_refetch_interval:
            raise UpstreamUnavailable(f"JWKS {self.shown} not loaded: the last attempt failed")
        try:
            await self.refresh()
        except UpstreamUnavailable:
            self._first_load_failed_at = self._clock()
            raise

    async def refetch_for_unknown_kid(self, kid: str | None = None) -> bool:
        """Refetch because a token named a ``kid`` we lack; False if rate-limited.

        Raises :class:`UpstreamUnavailable` when the JWKS cannot be fetched, and, until
        the next refetch is allowed, again for every such token: while the key set cannot
        be looked at, an unknown kid has no verdict (it may be a rotated key).
        """
        if self._inflight is not None and not self._inflight.done():
            # A fetch is already on its way: share it. A periodic one may have left before
            # the issuer rotated its key; if it brings no ``kid``, look once more (rate
            # limited) rather than refuse a token signed with the new key.
            periodic = not self._inflight_for_unknown_kid
            await self.refresh()
            if not periodic or kid is None or self.keys_for(kid):
                return True
            if self._inflight_for_unknown_kid and not self._inflight.done():
                await self.refresh()  # another token's refetch started meanwhile: share it
                return True
        now = self._clock()
        if self._last_refetch is not None and now - self._last_refetch < self._min_refetch_interval:
            if self._last_refetch_failed:
                raise UpstreamUnavailable(f"JWKS {self.shown} unreachable at the last refetch")
            return False
        self._last_refetch = now
        try:
            await self.refresh(for_unknown_kid=True)
        except UpstreamUnavailable:
            self._last_refetch_failed = True
            raise
        self._last_refetch_failed = False
        return True

    async def _fetch(self) -> None:
        self.fetches += 1
        if self._client is None:
            raise UpstreamUnavailable("JWKS client not started")
        try:
            status, content = await bounded_request(
                self._client,
                "GET",
                self.url,
                headers={"Accept": "application/json"},
                timeout=self._timeout,
            )
        except (httpx.HTTPError, AnswerRefused) as exc:
            self._report("error")
            raise UpstreamUnavailable(
                f"JWKS {self.shown} unreachable ({type(exc).__name__})"
            ) from exc
        if status != 200:
            self._report("error")
            raise UpstreamUnavailable(f"JWKS {self.shown} answered HTTP {status}")
        try:
            document = json.loads(content)
            keys = self._usable_keys(document)
        # Anything the document holds: an exception past here was a 500 per request and,
        # once, the end of the periodic refresh (a withdrawn key then verified for ever).
        except _BAD_DOCUMENT as exc:
            self._report("error")
            raise UpstreamUnavailable(f"JWKS {self.shown} is not a JWKS document") from exc
        now = self._clock()
        if document["keys"] == [] and self._keys and self._confirmed_at is not None:
            # A key set emptied at once is an identity provider mid-change (a realm being
            # imported, a key provider switched off and on) far more often than an intent
            # to refuse every token, and replacing the good keys with none would log every
            # broker's clients out: a failed refresh, like an unreachable JWKS, for a
            # bounded time. Only a document with no keys at all: one that names keys we
            # cannot use (too small, another use) is the issuer's new set, and replaces.
            held_for = now - self._confirmed_at
            if held_for < KEEP_THROUGH_EMPTY_REFRESHES * self._refresh_interval:
                self._report("error")
                raise UpstreamUnavailable(
                    f"JWKS {self.shown} lists no keys; the keys loaded {held_for:.0f} s ago "
                    "are kept"
                )
            logger.error(
                "JWKS %s has listed no keys for %.0f s: dropping the keys loaded before; "
                "every JWT is refused until it lists one",
                self.shown,
                held_for,
            )
        count = self._replace(keys)
        if keys:
            self._confirmed_at = now
        self._report("ok")
        logger.info("JWKS refreshed from %s: %d signing keys", self.shown, count)

    def _report(self, result: str) -> None:
        if self._observe is not None:
            self._observe(result)

    async def run_periodic_refresh(self) -> None:
        """Refresh forever every ``refresh_interval`` seconds (cancel to stop).

        The first fetch happens immediately; a failure is logged and retried at the
        unknown-kid rate so a JWKS that was down at start-up is picked up quickly.
        """
        after_failure = max(1.0, min(self._min_refetch_interval, self._refresh_interval))
        while True:
            try:
                await self.refresh()
                delay = self._refresh_interval
            except UpstreamUnavailable as exc:
                logger.warning("JWKS refresh failed, keeping previous keys: %s", exc)
                delay = after_failure
            except Exception as exc:  # noqa: BLE001 - this task must outlive any one fetch
                # Ended, the task left the keys as they were for good: a key the issuer
                # withdrew (say, compromised) would go on verifying.
                logger.error("JWKS refresh failed unexpectedly (%s)", type(exc).__name__)  # noqa: TRY400
                delay = after_failure
            await asyncio.sleep(delay)


def _removed(
    before: dict[str | None, list[jwk.Key]], after: dict[str | None, list[jwk.Key]]
) -> list[str | None]:
    """Kids of keys in ``before`` that ``after`` no longer holds (compared by thumbprint)."""
    kept = {key.thumbprint() for keys in after.values() for key in keys}
    return [kid for kid, keys in before.items() if any(k.thumbprint() not in kept for k in keys)]


#: What reading a JWKS document may raise: not JSON, or JSON of another shape.
_BAD_DOCUMENT: tuple[type[Exception], ...] = (*NOT_JSON, TypeError, AttributeError, KeyError)

#: JWK members that only a private key has (RFC 7518 §6.2.2, §6.3.2; RFC 8037 §2).
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth"})


def _weak_rsa(key: jwk.Key) -> int | None:
    """The size of an RSA key under 2048 bits, else None."""
    public = key.get_op_key("verify") if key.key_type == "RSA" else None
    size = getattr(public, "key_size", None)
    return size if isinstance(size, int) and size < 2048 else None
