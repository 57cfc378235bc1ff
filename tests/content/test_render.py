"""Sandboxed rendering (D6): the variable set, masking, exact amounts, and sandbox escapes failing safely."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from omniloop.content import render, variables
from omniloop.content.models import MessageTemplate, MessageTemplateVersion
from omniloop.core.errors import OmniloopError
from tests.benefits.factories import create_benefit, create_campaign
from tests.factories import create_bank, create_customer


def _version(db, org, body, *, channel="sms", subject=None, fields=None) -> MessageTemplateVersion:
    template = MessageTemplate(code=f"T{abs(hash(body)) % 10**8}", name="测试模板", channel=channel,
                               owner_org_id=org.id)
    db.add(template)
    db.flush()
    version = MessageTemplateVersion(template_id=template.id, version=1, subject=subject, body=body, fields=fields,
                                     variables=[])
    db.add(version)
    db.commit()
    return version


def test_render_message_fills_the_documented_variables(db):
    bank = create_bank(db)
    customer = create_customer(db, org=bank.sub_a, rm=bank.users["rm_a"], name="欧阳娜娜", gender="F",
                               phone="13812345678", lifecycle_stage="grow")
    benefit = create_benefit(db, bank.head, name="50元理财体验券", face_value_fen=5_050,
                             valid_to=datetime(2026, 12, 31, 16, 30, tzinfo=UTC))  # 2027-01-01 in Shanghai
    campaign = create_campaign(db, bank.users["operator"], bank.head)
    body = ("{{ customer.salutation }}您好，{{ customer.name_masked }}尾号{{ customer.phone_last4 }}，"
            "{{ customer.branch }}{{ customer.rm_name }}为您准备了{{ benefit.name }}{{ benefit.amount }}元，"
            "{{ benefit.valid_to }}前有效（{{ customer.lifecycle_stage }}·{{ campaign.code }}）{{ unsubscribe }}")
    version = _version(db, bank.head, body)
    msg = render.render_message(db, template_version_id=version.id, customer=customer, benefit=benefit,
                                campaign=campaign)
    assert msg.body == (f"欧阳女士您好，欧**娜尾号5678，西湖支行{bank.users['rm_a'].display_name}为您准备了"
                        f"50元理财体验券50.50元，2027-01-01前有效（成长期·{campaign.code}）拒收请回复R")
    assert msg.channel == "sms" and msg.template_version_id == version.id


def test_full_name_only_with_reveal_pii(db):
    bank = create_bank(db)
    customer = create_customer(db, org=bank.sub_a, name="张三丰")
    version = _version(db, bank.head, "{{ customer.name }}")
    assert render.render_message(db, template_version_id=version.id, customer=customer).body == "张*丰"
    assert render.render_message(db, template_version_id=version.id, customer=customer, reveal_pii=True).body == "张三丰"


def test_render_many_uses_one_compiled_template(db):
    bank = create_bank(db)
    customers = [create_customer(db, org=bank.sub_a, name=n, gender=g) for n, g in
                 [("李四", "M"), ("王芳", "F"), ("赵六", None)]]
    version = _version(db, bank.head, "{{ customer.salutation }}", channel="app_push", subject="标题")
    out = render.render_many(db, template_version_id=version.id, customers=customers)
    assert [m.body for m in out] == ["李先生", "王女士", "赵客户"]
    assert all(m.subject == "标题" for m in out)


def test_missing_benefit_is_an_error_not_an_empty_string(db):
    bank = create_bank(db)
    customer = create_customer(db, org=bank.sub_a)
    version = _version(db, bank.head, "送您{{ benefit.amount }}元")
    with pytest.raises(OmniloopError) as err:
        render.render_message(db, template_version_id=version.id, customer=customer)
    assert err.value.code == "template_render_failed" and err.value.status == 422


def test_unknown_version_is_404(db):
    bank = create_bank(db)
    customer = create_customer(db, org=bank.sub_a)
    with pytest.raises(OmniloopError) as err:
        render.render_message(db, template_version_id=424242, customer=customer)
    assert err.value.code == "template_version_not_found"


@pytest.mark.parametrize("source", [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ customer.__class__ }}",
    "{{ customer['__class__'] }}",
    "{{ customer.name.upper() }}",
    "{{ customer.items() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ self._TemplateReference__context }}",
    "{% for i in range(100000000) %}x{% endfor %}",
    "{{ customer.name | attr('__class__') }}",
    "{{ '%s' % customer.__class__ }}",
    "{{ 'abc'.format(1) }}",
    "{% include 'etc/passwd' %}",
    "{% macro m() %}{% endmacro %}",
])
def test_sandbox_escapes_fail_safely(source):
    _, problems = render.analyse(source)
    assert problems, source  # refused before anything runs
    with pytest.raises(OmniloopError) as err:
        render.compile_source(source)
    assert err.value.code == "template_render_failed"


@pytest.mark.parametrize("source", [
    "{{ ''.__class__ }}",
    "{{ customer.name.upper() }}",
    "{{ customer.items() }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ lipsum }}",
    "{{ range(10) }}",
])
def test_even_unchecked_code_cannot_escape_the_sandbox(source):
    # Bypass the checker: the sandboxed environment itself must still refuse.
    template = render.environment("sms").from_string(source)
    with pytest.raises(render.TemplateRenderError):
        render.render_source(template, variables.sample_context())


def test_conditionals_and_filters_are_allowed():
    compiled = render.CompiledTemplate.of(channel="sms", subject=None, fields=None,
                                          body="{% if benefit.points != '0' %}积分{{ benefit.points }}{% else %}无{% endif %}"
                                               "{{ customer.rm_name | default('客户经理') }}")
    assert compiled.render(variables.sample_context()).body == "积分2000王芳"


def test_yuan_is_exact_and_surnames():
    assert [variables.yuan(f) for f in (0, 5_000, 5_050, 1, 123_456_789)] == ["0", "50", "50.50", "0.01",
                                                                             "1234567.89"]
    assert [variables.surname(n) for n in ("张三", "欧阳娜娜", "司马光", "欧阳", "")] == ["张", "欧阳", "司马", "欧", ""]
