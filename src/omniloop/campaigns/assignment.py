"""Cell assignment (试点组 / 对照组 / 全局对照组): deterministic, so a re-run assigns every customer the same way.

A customer's position in [0, 10 000) is the first 8 bytes of SHA-256 over a salt and the ids, modulo
10 000 (basis points; the bias of the modulo is below 10⁻¹⁵). The bank-wide global holdout hashes the
holdout salt and the customer only, so it is the same customers for every campaign; it is checked first.
Within a campaign, positions [0, test) are the test cell, [test, test + control) the control group and
the rest the main cell — so raising the control share only moves main customers into control.
"""

from __future__ import annotations

import hashlib
import secrets

BASIS = 10_000
MAX_TEST_PCT = 10
MAX_CONTROL_PCT = 50
MAX_HOLDOUT_PCT = 10


def new_salt() -> str:
    return secrets.token_hex(8)


def position(salt: str, *parts: int) -> int:
    """The customer's deterministic position in [0, BASIS) for ``salt`` and ``parts`` (campaign, customer)."""
    key = ":".join([salt, *(str(p) for p in parts)]).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") % BASIS


def in_global_holdout(holdout_salt: str | None, holdout_pct: int, customer_id: int) -> bool:
    if not holdout_salt or holdout_pct <= 0:
        return False
    return position(holdout_salt, customer_id) < holdout_pct * BASIS // 100


def cell(salt: str, campaign_id: int, customer_id: int, test_pct: int, control_pct: int, *,
         holdout_salt: str | None = None, holdout_pct: int = 0) -> str:
    """``global_holdout`` | ``test`` | ``control`` | ``main`` for one customer of one campaign."""
    if in_global_holdout(holdout_salt, holdout_pct, customer_id):
        return "global_holdout"
    at = position(salt, campaign_id, customer_id)
    test_end = test_pct * BASIS // 100
    if at < test_end:
        return "test"
    if at < test_end + control_pct * BASIS // 100:
        return "control"
    return "main"
