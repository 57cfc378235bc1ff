"""Key dates on a fixed clock (birthday, anniversary, maturity − N days, salary day) and AUM threshold
crossings up and down."""

from __future__ import annotations

from datetime import UTC, date, datetime

from omniloop.core.db import utcnow
from omniloop.customers.models import CustomerHolding
from omniloop.triggers import keydates, thresholds
from tests.factories import create_customer
from tests.triggers.conftest import define, fired_for, firings, send, track

TZ = "Asia/Shanghai"


def _evaluate(db, day: date) -> int:
    decisions = keydates.evaluate_key_dates(db, today=day, now=utcnow(), timezone=TZ)
    db.commit()
    return len(decisions.fired)


def test_birthday_anniversary_and_maturity_on_a_fixed_day(client, db, world, operator, bank):
    a1, a2, b1 = (world["customers"][k] for k in ("a1", "a2", "b1"))
    today = date(2027, 3, 10)
    a1.birth_date, a2.birth_date, b1.birth_date = date(1990, 3, 10), date(1990, 3, 11), date(1985, 3, 10)
    a1.first_account_date, a2.first_account_date, b1.first_account_date = (
        date(2020, 3, 10), date(2027, 3, 10), date(2019, 3, 11))
    leap = create_customer(db, org=bank.sub_a, birth_date=date(2000, 2, 29), first_account_date=None)
    db.add_all([
        CustomerHolding(customer_id=a1.id, product_code="W001", product_name="稳健30天", product_type="wealth",
                        amount_fen=5_000_000, start_date=date(2027, 2, 11), maturity_date=date(2027, 3, 13)),
        CustomerHolding(customer_id=a2.id, product_code="D001", product_name="三年定期", product_type="deposit",
                        amount_fen=9_000_000, start_date=date(2024, 3, 13), maturity_date=date(2027, 3, 13)),
        CustomerHolding(customer_id=b1.id, product_code="W002", product_name="稳健90天", product_type="wealth",
                        amount_fen=1_000_000, start_date=date(2027, 1, 1), maturity_date=date(2027, 3, 14)),
    ])
    db.commit()
    birthday = define(client, operator, "key_date", {"date_kind": "birthday"}, name="生日")
    anniversary = define(client, operator, "key_date", {"date_kind": "anniversary"}, name="开户周年")
    maturity = define(client, operator, "key_date", {"date_kind": "maturity", "days_before": 3}, name="理财到期前3天")
    assert _evaluate(db, today) == 4
    assert fired_for(db, birthday["id"]) == sorted([a1.id, b1.id])
    assert fired_for(db, anniversary["id"]) == [a1.id]  # a2 opened the account today: no anniversary yet
    (m,) = firings(db, maturity["id"])
    assert m.customer_id == a1.id and m.occurrence_key == "2027-03-13:W001" and m.details["product_name"] == "稳健30天"
    assert firings(db, anniversary["id"])[0].details["years"] == 7

    assert _evaluate(db, today) == 0  # the job ran twice today: nobody twice
    assert _evaluate(db, date(2027, 3, 11)) == 3  # a2's birthday, b1's anniversary, b1's maturity in 3 days
    assert _evaluate(db, date(2027, 2, 28)) == 1  # a 29 February birthday in a common year
    assert fired_for(db, birthday["id"]) == sorted([a1.id, a2.id, b1.id, leap.id])


def test_salary_day_from_salary_events_or_a_configured_day(client, db, world, operator):
    a1, a2, b1 = (world["customers"][k] for k in ("a1", "a2", "b1"))
    a1.payroll_flag = a2.payroll_flag = True
    b1.payroll_flag = False
    db.commit()

    def at(day: date) -> datetime:
        return datetime(day.year, day.month, day.day, 2, tzinfo=UTC)  # 10:00 bank time

    # a1 is paid on the 15th, a2 on the 31st; b1 has salary events but no payroll flag.
    send(client, *[track(a1.customer_no, "salary_credited", ts=at(d)) for d in (date(2026, 9, 15), date(2026, 10, 15))],
         *[track(b1.customer_no, "salary_credited", ts=at(d)) for d in (date(2026, 9, 15), date(2026, 10, 15))],
         *[track(a2.customer_no, "salary_credited", ts=at(d)) for d in (date(2026, 8, 31), date(2026, 10, 31))])
    salary = define(client, operator, "key_date", {"date_kind": "payroll", "days_before": 1}, name="发薪前一天")
    fixed = define(client, operator, "key_date", {"date_kind": "payroll", "payroll_day": 10}, name="每月10日")
    _evaluate(db, date(2026, 11, 14))
    assert fired_for(db, salary["id"]) == [a1.id]
    # The 31st in a 30-day month falls on the 30th: the day before is the 29th.
    _evaluate(db, date(2026, 11, 29))
    assert fired_for(db, salary["id"]) == sorted([a1.id, a2.id])
    _evaluate(db, date(2026, 11, 10))
    assert fired_for(db, fixed["id"]) == sorted([a1.id, a2.id])


def test_threshold_crossing_up_and_down(client, db, world, operator):
    a1, a2, b1 = (world["customers"][k] for k in ("a1", "a2", "b1"))
    a1.aum_fen, a2.aum_fen, b1.aum_fen = 60_000_000, 100_000, 40_000_000
    db.commit()
    both = define(client, operator, "threshold", {"direction": "both", "value_fen": 50_000_000}, name="AUM 50万")
    up = define(client, operator, "threshold", {"direction": "up", "value_fen": 50_000_000}, name="AUM 升破50万")

    def scan() -> int:
        decisions = thresholds.scan(db, now=utcnow())
        db.commit()
        return len(decisions.fired)

    assert scan() == 0  # the baseline: nobody crossed anything yet
    db.refresh(a1), db.refresh(b1)
    a1.aum_fen, b1.aum_fen = 49_999_999, 50_000_000
    db.commit()
    assert scan() == 3  # a1 down (both), b1 up (both, up)
    assert scan() == 0  # rescanning the same change fires nobody twice
    assert {(f.customer_id, f.details["direction"]) for f in firings(db, both["id"])} == {(a1.id, "down"), (b1.id, "up")}
    assert fired_for(db, up["id"]) == [b1.id]
    db.refresh(a1)
    a1.aum_fen = 70_000_000
    db.commit()
    assert scan() == 2
    assert sorted(f.details["direction"] for f in firings(db, both["id"]) if f.customer_id == a1.id) == ["down", "up"]
    assert fired_for(db, up["id"]) == sorted([a1.id, b1.id])
