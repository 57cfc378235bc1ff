"""The demo's campaign elements: valid, current, idempotent, and usable by the services."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from omniloop.benefits import service as benefit_service
from omniloop.benefits.models import Benefit
from omniloop.content import checks
from omniloop.content.models import BlockedWord, MessageTemplate, MessageTemplateVersion
from omniloop.core.audit import SYSTEM
from omniloop.demo.elements import seed_elements
from omniloop.success import service as success_service
from omniloop.success.models import SuccessRule
from tests.factories import create_bank


def test_seed_elements_is_valid_and_idempotent(db):
    create_bank(db)
    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    first = seed_elements(db, actor=SYSTEM, now=now)
    db.commit()
    assert first == {"benefits": 5, "templates": 6, "blocked_words": 16, "success_rules": 4}
    assert seed_elements(db, actor=SYSTEM, now=now) == {"benefits": 0, "templates": 0, "blocked_words": 0,
                                                        "success_rules": 0}
    benefits = db.scalars(select(Benefit)).all()
    assert all(benefit_service.availability_problem(b, now) is None for b in benefits)
    assert not any(b.code.startswith("HIST-") for b in benefits)
    channels = set(db.scalars(select(MessageTemplate.channel)))
    assert channels == {"app_push", "sms", "wechat", "email", "rm_task"}
    blocked = checks.load_blocked_words(db)
    for template in db.scalars(select(MessageTemplate)):
        version = db.scalar(select(MessageTemplateVersion).where(MessageTemplateVersion.template_id == template.id))
        problems = checks.check_template(template.channel, version.subject, version.body, version.fields,
                                         template.purpose, blocked)
        assert checks.errors(problems) == [], template.code
    assert db.scalar(select(func.count()).select_from(BlockedWord)) == 16
    for rule in db.scalars(select(SuccessRule)):
        success_service.compile_rule(rule)  # the stored filters parse
    assert set(db.scalars(select(SuccessRule.event_name))) == {"购买理财", "绑卡完成", "登录", "激活信用卡"}
