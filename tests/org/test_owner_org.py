"""Owner org of new catalog objects (benefits, templates, success rules): inside the caller's subtree only."""

from __future__ import annotations

import pytest

from omniloop.core.errors import ValidationFailed
from omniloop.org.service import owner_org_for_create
from tests.factories import create_bank


def test_owner_org_must_lie_in_the_callers_subtree(db):
    bank = create_bank(db)
    assert owner_org_for_create(db, requested=None, caller_org=bank.branch_a) == bank.branch_a.id
    assert owner_org_for_create(db, requested=bank.sub_a.id, caller_org=bank.branch_a) == bank.sub_a.id
    assert owner_org_for_create(db, requested=bank.sub_b.id, caller_org=bank.head) == bank.sub_b.id
    for outside in (bank.branch_b.id, bank.head.id, 987_654):
        with pytest.raises(ValidationFailed) as info:
            owner_org_for_create(db, requested=outside, caller_org=bank.branch_a)
        assert info.value.code == "invalid_owner_org"
