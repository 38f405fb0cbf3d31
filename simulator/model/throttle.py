"""Account-wide API rate limits: one token bucket per operation (reference section 1)."""

from __future__ import annotations


class TokenBucket:
    """`burst` tokens refilled at `rate` per second; a call takes one token or is throttled."""

    __slots__ = ("rate", "burst", "tokens", "updated")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.updated = 0.0

    def take(self, now: float) -> bool:
        """Spend one token at time `now`; False (throttled) when the bucket is empty."""
        tokens = self.tokens + (now - self.updated) * self.rate
        self.tokens = tokens if tokens < self.burst else self.burst
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False
