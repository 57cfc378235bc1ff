"""Audit snapshots are JSON: times of day (quiet hours) serialise, secrets never appear."""

from __future__ import annotations

import json
from datetime import time

from omniloop.contacts.models import ContactRule
from omniloop.core.audit import snapshot
from omniloop.delivery.models import Channel


def test_snapshot_serialises_times_and_leaves_out_secrets():
    rule = ContactRule(kind="quiet_hours", name="夜间免打扰", quiet_start=time(21, 30), quiet_end=time(8, 0))
    data = snapshot(rule)
    assert data["quiet_start"] == "21:30:00" and data["quiet_end"] == "08:00:00"
    json.dumps(data)
    channel = Channel(code="sms", name_zh="短信", name_en="SMS", secrets_encrypted="gAAAA-token")
    assert "secrets_encrypted" not in snapshot(channel) and snapshot(channel)["code"] == "sms"
