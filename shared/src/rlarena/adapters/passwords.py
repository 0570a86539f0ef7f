"""Password hashing with argon2id; verification costs the same whether or not the user exists."""

from __future__ import annotations

from functools import cached_property

from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class PasswordHasher:
    def __init__(self, *, time_cost: int = 2, memory_cost_kib: int = 19 * 1024, parallelism: int = 1) -> None:
        # OWASP's argon2id baseline (19 MiB, t=2, p=1): strong, and quick enough on a small pod.
        self._argon2 = _Argon2(time_cost=time_cost, memory_cost=memory_cost_kib, parallelism=parallelism)

    def hash(self, password: str) -> str:
        return self._argon2.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """True if the password matches. With no stored hash, burn the same time and say no."""
        try:
            return self._argon2.verify(stored_hash or self._dummy_hash, password) and stored_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    @cached_property
    def _dummy_hash(self) -> str:
        return self._argon2.hash("not a password anyone has")
