"""Cell assignment (D8): deterministic by a salted SHA-256, proportions as configured, holdout first."""

from __future__ import annotations

from collections import Counter

from omniloop.campaigns import assignment


def _cells(salt: str, campaign_id: int, n: int, test: int, control: int, **holdout) -> list[str]:
    return [assignment.cell(salt, campaign_id, cid, test, control, **holdout) for cid in range(1, n + 1)]


def test_same_inputs_same_cells_and_salt_changes_them():
    first = _cells("s1", 7, 5_000, 10, 20)
    assert first == _cells("s1", 7, 5_000, 10, 20)  # a re-run assigns the same way
    assert first != _cells("s2", 7, 5_000, 10, 20)
    assert first != _cells("s1", 8, 5_000, 10, 20)  # another campaign cuts differently


def test_proportions_within_tolerance():
    n = 40_000
    counts = Counter(_cells("abc", 3, n, 10, 25))
    # binomial standard deviation at n = 40 000 is ≤ 0.25 %; allow four of them
    assert abs(counts["test"] / n - 0.10) < 0.01
    assert abs(counts["control"] / n - 0.25) < 0.01
    assert abs(counts["main"] / n - 0.65) < 0.01
    assert "global_holdout" not in counts
    assert Counter(_cells("abc", 3, 1000, 0, 0)) == {"main": 1000}


def test_global_holdout_is_the_same_customers_for_every_campaign_and_comes_first():
    holdout = {"holdout_salt": "bank", "holdout_pct": 5}
    a = _cells("a", 1, 20_000, 10, 10, **holdout)
    b = _cells("b", 2, 20_000, 10, 10, **holdout)
    held_a = {i for i, c in enumerate(a) if c == "global_holdout"}
    held_b = {i for i, c in enumerate(b) if c == "global_holdout"}
    assert held_a == held_b
    assert abs(len(held_a) / 20_000 - 0.05) < 0.01
    # Raising the holdout share only adds customers to it.
    wider = _cells("a", 1, 20_000, 10, 10, holdout_salt="bank", holdout_pct=8)
    assert held_a < {i for i, c in enumerate(wider) if c == "global_holdout"}
    # Outside the holdout the campaign's own assignment is unchanged by it.
    plain = _cells("a", 1, 20_000, 10, 10)
    assert all(a[i] == plain[i] for i in range(20_000) if i not in held_a)


def test_raising_control_moves_only_main_customers():
    small = _cells("x", 9, 10_000, 5, 10)
    large = _cells("x", 9, 10_000, 5, 20)
    for before, after in zip(small, large, strict=True):
        if before in ("test", "control"):
            assert after == before
        if after == "main":
            assert before == "main"
