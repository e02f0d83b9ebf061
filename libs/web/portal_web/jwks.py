"""Identity's public keys, as every other service holds them: fetched from its JWKS, cached.

Verifying a token must never stall a service's event loop, nor let anyone drive its traffic to
identity (issue 6 "Service to service"):
- A key in the cache (younger than `ttl`) costs a dictionary look-up, no I/O.
- A fetch runs in a thread of its own, bounded by `timeout`; the requests that need it wait for
  it without blocking the loop, all of them for the same fetch.
- Fetches start at most once per `refetch_interval`, whatever asks for them: a new `kid` (identity
  rotated its key), an expired cache, or a flood of tokens with forged kids.
- When identity cannot be reached, keys fetched earlier stay in use (a key is only dropped when a
  fetch succeeds without it); a token whose key was never fetched raises `KeysUnavailable`, which
  services answer with 503, not 401: the token may be fine.
"""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import jwt
import structlog

log = structlog.get_logger(__name__)

# A JWKS holds a few keys; anything much larger is not identity's answer.
_MAX_JWKS_BYTES = 64 * 1024


class KeysUnavailable(Exception):
    """The key a token names is not known and identity's JWKS could not be fetched."""


class UnknownKey(Exception):
    """Identity's JWKS, fetched just now, has no key with this id."""


class JwksKeys:
    """The signing keys at `url` by key id (`kid`); see the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 2.0,
        ttl: float = 300.0,
        refetch_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.ttl = ttl
        self.refetch_interval = refetch_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None  # the last fetch that succeeded
        self._attempted_at: float | None = None  # the last fetch started
        self._failed = False  # whether the last fetch that finished failed
        self._fetch: Future[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jwks")

    async def key(self, kid: str) -> Any:
        """The key `kid`, waiting for a fetch if one is needed, without blocking the loop."""
        key = self._fresh(kid)
        if key is not None:
            return key
        fetch = self._start_fetch()
        finished = True
        if fetch is not None:
            # One wrapper per waiter; asyncio.wait never cancels the shared fetch.
            done, _ = await asyncio.wait({asyncio.wrap_future(fetch)}, timeout=self.timeout)
            finished = bool(done)
        return self._outcome(kid, finished)

    def _fresh(self, kid: str) -> Any:
        with self._lock:
            fresh = self._fetched_at is not None and self._clock() - self._fetched_at < self.ttl
            return self._keys.get(kid) if fresh else None

    def _start_fetch(self) -> Future[None] | None:
        """The fetch under way, or a new one if the last started long enough ago; else None."""
        with self._lock:
            if self._fetch is not None and not self._fetch.done():
                return self._fetch
            now = self._clock()
            if self._attempted_at is not None and now - self._attempted_at < self.refetch_interval:
                return None
            self._attempted_at = now
            self._fetch = self._executor.submit(self._fetch_keys)
            return self._fetch

    def _fetch_keys(self) -> None:
        try:
            with urllib.request.urlopen(self.url, timeout=self.timeout) as response:  # noqa: S310 - a configured https/http URL
                keys = jwt.PyJWKSet.from_json(response.read(_MAX_JWKS_BYTES))
        except Exception as exc:  # any failure means the same: no keys from identity now
            with self._lock:
                self._failed = True
            log.warning("jwks_fetch_failed", url=self.url, error=repr(exc)[:200])
            return
        fetched = {key.key_id: key.key for key in keys.keys if key.key_id}
        with self._lock:
            self._keys = fetched
            self._fetched_at = self._clock()
            self._failed = False
        log.info("jwks_fetched", url=self.url, kids=sorted(fetched))

    def _outcome(self, kid: str, fetch_finished: bool) -> Any:
        with self._lock:
            key = self._keys.get(kid)
            if key is not None:
                return key  # fresh, or kept from an earlier fetch while identity is unreachable
            if not fetch_finished or self._failed or self._fetched_at is None:
                raise KeysUnavailable(f"cannot fetch {self.url}")
            raise UnknownKey(kid)
