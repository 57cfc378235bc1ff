"""Bulk load of customer master data from CSV, Parquet and Excel (A1): validation, upsert, scope."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from omniloop.core.audit import AuditRecord
from omniloop.customers.loader import (
    ImportFileUnreadable,
    load_customers,
    resident_id_check_chars,
    uscc_check_chars,
)
from omniloop.customers.models import Customer
from omniloop.demo.parquet import generate_parquet
from omniloop.demo.seed import seed_demo
from omniloop.org.roles import Role
from tests.factories import create_bank, create_customer, create_user, login_headers

TODAY = date(2026, 11, 23)


def resident_id(region: str, birth: str, sequence: str) -> str:
    body = (region + birth + sequence).encode()
    return body.decode() + chr(resident_id_check_chars(np.frombuffer(body, np.uint8)[None, :])[0])


def uscc(body: str) -> str:
    return body + chr(uscc_check_chars(np.frombuffer(body.encode(), np.uint8)[None, :])[0])


GOOD_COLUMNS = (
    "customer_no", "org_code", "rm_username", "name", "gender", "birth_date", "phone", "id_number", "risk_level",
    "segment", "deposit_fen", "wealth_fen", "fund_fen", "insurance_fen", "loan_fen", "aum_fen", "has_credit_card",
    "credit_card_activated", "payroll_flag", "app_logins_month", "first_account_date",
)


def good_rows(bank) -> list[dict]:
    """Three valid customers, written the ways bank files spell things (empty cells, 是/否, 1990/1/2)."""
    values = [
        ("K001", bank.sub_a.code, "rm_a", "王小明", "M", "1985-03-07", "13812345678",
         resident_id("330106", "19850307", "123"), "R3", "retail", "1000000", "500000", "0", "0", "0", "1500000",
         "true", "false", "1", "12", "2015-06-01"),
        ("K002", bank.sub_a.code, "", "李芳", "女", "1990/1/2", "+86 13900001111",
         resident_id("330102", "19900102", "224"), "", "", "250000", "", "", "", "", "250000",
         "否", "", "", "", "20200315"),
        ("K003", bank.sub_b.code, "rm_b", "宁波恒达科技有限公司", "", "", "0574-87654321",
         uscc("91330203123456789"), "R4", "corporate", "90000000", "0", "0", "0", "500000000", "90000000",
         "false", "false", "false", "3", "2010-01-01"),
    ]
    return [dict(zip(GOOD_COLUMNS, row, strict=True)) for row in values]


def write(path: Path, rows: list[dict], *, encoding: str = "utf-8") -> Path:
    columns = list(rows[0])
    if path.suffix == ".csv":
        with path.open("w", encoding=encoding, newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(columns)
            writer.writerows([[row[c] for c in columns] for row in rows])
    elif path.suffix == ".parquet":
        pq.write_table(pa.table({c: [row[c] or None for row in rows] for c in columns}), path)
    else:
        book = Workbook()
        sheet = book.active
        sheet.append(columns)
        for row in rows:
            sheet.append([row[c] for c in columns])
        book.save(path)
    return path


@pytest.fixture
def bank(db):
    return create_bank(db)


def load(db, path: Path, **kwargs):
    return load_customers(session=db, path=path, today=TODAY, **kwargs)


def errors_of(report) -> set[tuple[int, str | None, str]]:
    return {(e.row, e.column, e.code) for e in report.errors}


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xlsx"])
def test_good_file_loads(db, bank, tmp_path, suffix):
    report = load(db, write(tmp_path / f"customers{suffix}", good_rows(bank)))
    assert report.loaded and report.errors == [] and (report.inserted, report.updated) == (3, 0)
    assert report.file_format == {".csv": "csv", ".parquet": "parquet", ".xlsx": "xlsx"}[suffix]
    k1, k2, k3 = (db.scalar(select(Customer).where(Customer.customer_no == n)) for n in ("K001", "K002", "K003"))
    assert (k1.org_id, k1.rm_id, k1.birth_date, k1.aum_fen, k1.wealth_fen) == (
        bank.sub_a.id, bank.users["rm_a"].id, date(1985, 3, 7), 1_500_000, 500_000)
    assert (k1.has_credit_card, k1.credit_card_activated, k1.payroll_flag, k1.app_logins_month) == (True, False, True, 12)
    assert (k2.gender, k2.birth_date, k2.phone, k2.segment, k2.risk_level, k2.rm_id) == (
        "F", date(1990, 1, 2), "13900001111", "retail", None, None)
    assert k2.first_account_date == date(2020, 3, 15) and k2.wealth_fen == 0
    assert (k3.segment, k3.gender, k3.loan_fen, k3.rm_id) == ("corporate", None, 500_000_000, bank.users["rm_b"].id)
    audit = db.scalars(select(AuditRecord).where(AuditRecord.action == "customers.load")).all()
    assert len(audit) == 1 and audit[0].after["inserted"] == 3


def test_csv_saved_by_chinese_excel_in_gb18030_loads(db, bank, tmp_path):
    report = load(db, write(tmp_path / "gbk.csv", good_rows(bank), encoding="gb18030"))
    assert report.loaded and report.inserted == 3
    assert db.scalar(select(Customer.name).where(Customer.customer_no == "K003")) == "宁波恒达科技有限公司"


def test_bad_rows_are_reported_exactly_and_nothing_loads(db, bank, tmp_path):
    rows = good_rows(bank)
    bad = [dict(rows[0]) for _ in range(8)]
    for i, row in enumerate(bad):
        row["customer_no"] = f"B{i}"
    bad[0]["phone"] = "12345"
    bad[1]["id_number"] = bad[1]["id_number"][:-1] + ("0" if bad[1]["id_number"][-1] != "0" else "1")
    bad[2]["org_code"] = "NOPE"
    bad[3]["rm_username"] = "rm_b"  # an RM of the other branch
    bad[4]["first_account_date"] = "2023-02-30"
    bad[5]["deposit_fen"] = "12.5"
    bad[6]["aum_fen"] = "100"
    bad[7]["customer_no"] = "B0"  # repeats row 2
    bad[7]["gender"] = "F"  # and contradicts the ID number
    report = load(db, write(tmp_path / "bad.csv", rows + bad))
    assert not report.loaded and report.inserted == report.updated == 0
    assert errors_of(report) == {
        (5, "phone", "phone"),
        (6, "id_number", "id_check"),
        (7, "org_code", "unknown_org"),
        (8, "rm_username", "rm_not_in_org"),
        (9, "first_account_date", "no_such_date"),
        (10, "deposit_fen", "not_fen"),
        (11, "aum_fen", "aum_below_assets"),
        (12, "customer_no", "duplicate_in_file"),
        (12, "gender", "id_gender_mismatch"),
    }
    assert report.error_count == 9 and report.rows_read == 11
    dup = next(e for e in report.errors if e.code == "duplicate_in_file")
    assert "第 5 行" in dup.message_zh and "row 5" in dup.message_en
    assert db.scalar(select(func.count()).select_from(Customer)) == 0
    assert db.scalar(select(AuditRecord.after).where(AuditRecord.action == "customers.load"))["loaded"] is False


def test_skip_invalid_loads_the_good_rows(db, bank, tmp_path):
    rows = good_rows(bank)
    rows[1]["phone"] = "not a phone"
    report = load(db, write(tmp_path / "some_bad.xlsx", rows), skip_invalid=True)
    assert report.loaded and (report.inserted, report.skipped, report.error_count) == (2, 1, 1)
    assert errors_of(report) == {(3, "phone", "phone")}
    assert set(db.scalars(select(Customer.customer_no))) == {"K001", "K003"}


def test_upsert_updates_only_the_columns_in_the_file(db, bank, tmp_path):
    load(db, write(tmp_path / "first.csv", good_rows(bank)))
    balances = [
        {"customer_no": "K001", "deposit_fen": "2000000", "wealth_fen": "0", "fund_fen": "300000", "insurance_fen": "0"},
        {"customer_no": "K004", "deposit_fen": "1", "wealth_fen": "0", "fund_fen": "0", "insurance_fen": "0"},
    ]
    report = load(db, write(tmp_path / "balances.parquet", balances))
    assert not report.loaded
    assert errors_of(report) == {(3, "org_code", "new_needs_org"), (3, "name", "new_needs_name")}

    report = load(db, write(tmp_path / "balances.parquet", balances[:1]))
    assert report.loaded and (report.inserted, report.updated) == (0, 1)
    db.expire_all()
    k1 = db.scalar(select(Customer).where(Customer.customer_no == "K001"))
    assert (k1.deposit_fen, k1.fund_fen, k1.aum_fen) == (2_000_000, 300_000, 2_300_000)  # AUM derived
    assert (k1.name, k1.rm_id, k1.payroll_flag) == ("王小明", bank.users["rm_a"].id, True)  # untouched


def test_a_new_customer_needs_a_name_even_when_the_org_is_given(db, bank, tmp_path):
    report = load(db, write(tmp_path / "no_name.csv", [{"customer_no": "N1", "org_code": bank.sub_a.code}]))
    assert errors_of(report) == {(2, "name", "new_needs_name")}


def test_a_damaged_file_is_unreadable(db, bank, tmp_path):
    path = tmp_path / "customers.xlsx"
    path.write_bytes(b"this is not a workbook")
    with pytest.raises(ImportFileUnreadable):
        load(db, path)


def test_header_problems_stop_the_load(db, bank, tmp_path):
    report = load(db, write(tmp_path / "no_key.csv", [{"name": "王五", "deposit_fen": "1"}]), skip_invalid=True)
    assert not report.loaded
    assert errors_of(report) == {(1, "customer_no", "missing_column"), (1, "aum_fen", "partial_assets")}
    both = [{"customer_no": "X1", "org_code": bank.sub_a.code, "org_id": str(bank.sub_a.id), "name": "王五", "remark": "x"}]
    report = load(db, write(tmp_path / "both.csv", both))
    assert errors_of(report) == {(1, "org_id", "conflicting_columns")} and report.ignored_columns == ["remark"]


def test_malformed_csv_lines_keep_row_numbers(db, bank, tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text(
        "customer_no,org_code,name\n"
        f"M1,{bank.sub_a.code},甲\n"
        f"M2,{bank.sub_a.code},乙,多余\n"
        f"M3,NOPE,丙\n", encoding="utf-8")
    report = load(db, path)
    assert errors_of(report) == {(3, None, "malformed_line"), (4, "org_code", "unknown_org")}
    assert report.rows_read == 3


def test_a_number_repeated_in_a_later_chunk_is_caught(db, bank, tmp_path):
    rows = [{"customer_no": f"D{i % 3}", "org_code": bank.sub_a.code, "name": "张三"} for i in range(4)]
    report = load(db, write(tmp_path / "dups.csv", rows), chunk_rows=3, skip_invalid=True)
    assert errors_of(report) == {(5, "customer_no", "duplicate")}
    assert (report.inserted, report.skipped) == (3, 1)


def test_generated_parquet_loads_into_the_seeded_demo_bank(db, tmp_path):
    seed_demo(db, customers=0)
    summary = generate_parquet(tmp_path, customers=1_000, chunk=10_000, as_of=date(2026, 10, 1))
    report = load(db, summary.customers_path)
    assert report.loaded and report.inserted == 1_000 and report.errors == []
    assert db.scalar(select(func.count()).where(Customer.rm_id.is_not(None))) > 500


# ---- POST /api/customers/import ------------------------------------------------------------------

def upload(client, headers, path: Path, **params):
    with path.open("rb") as fh:
        return client.post("/api/customers/import", headers=headers, params=params,
                           files={"file": (path.name, fh, "application/octet-stream")})


class TestImportEndpoint:
    def test_operator_uploads_a_file(self, client, bank, tmp_path):
        response = upload(client, login_headers(client, "operator"), write(tmp_path / "c.xlsx", good_rows(bank)))
        assert response.status_code == 200, response.text
        assert response.json()["inserted"] == 3 and response.json()["loaded"] is True

    def test_invalid_rows_are_422_with_the_errors(self, client, db, bank, tmp_path):
        rows = good_rows(bank)
        rows[2]["risk_level"] = "R9"
        response = upload(client, login_headers(client, "operator"), write(tmp_path / "c.csv", rows))
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "import_invalid_rows"
        assert [(e["row"], e["column"], e["code"]) for e in error["details"]["errors"]] == [(4, "risk_level", "risk_level")]
        assert db.scalar(select(func.count()).select_from(Customer)) == 0
        skipped = upload(client, login_headers(client, "operator"), write(tmp_path / "c.csv", rows), skip_invalid=True)
        assert skipped.status_code == 200 and skipped.json()["inserted"] == 2

    def test_unsupported_type_is_415(self, client, bank, tmp_path):
        path = tmp_path / "customers.txt"
        path.write_text("customer_no\nX\n")
        response = upload(client, login_headers(client, "operator"), path)
        assert response.status_code == 415 and response.json()["error"]["code"] == "unsupported_file_type"
        assert "CSV" in response.json()["error"]["message"]

    def test_oversized_file_is_413(self, client, bank, tmp_path, monkeypatch):
        monkeypatch.setattr(client.app.state.settings, "import_max_mb", 0)
        response = upload(client, login_headers(client, "operator"), write(tmp_path / "c.csv", good_rows(bank)))
        assert response.status_code == 413 and response.json()["error"]["code"] == "import_file_too_large"

    def test_rm_may_not_import(self, client, bank, tmp_path):
        response = upload(client, login_headers(client, "rm_a"), write(tmp_path / "c.csv", good_rows(bank)))
        assert response.status_code == 403

    def test_anonymous_is_401(self, client, bank, tmp_path):
        assert upload(client, {}, write(tmp_path / "c.csv", good_rows(bank))).status_code == 401

    def test_branch_operator_stays_in_their_branch(self, client, db, bank, tmp_path):
        create_user(db, org=bank.branch_a, role=Role.operator, username="op_a")
        other = create_customer(db, org=bank.sub_b, customer_no="KB1")
        db.commit()
        rows = good_rows(bank)  # K003 is in branch B
        rows.append(dict(rows[0], customer_no=other.customer_no))  # moving branch B's customer into branch A
        response = upload(client, login_headers(client, "op_a"), write(tmp_path / "c.csv", rows))
        assert response.status_code == 422
        found = {(e["row"], e["column"], e["code"]) for e in response.json()["error"]["details"]["errors"]}
        assert found == {(4, "org_code", "org_out_of_scope"), (5, "customer_no", "customer_out_of_scope")}
        assert db.scalar(select(Customer.org_id).where(Customer.customer_no == "KB1")) == bank.sub_b.id
