"""Document parsing (docx / pdf / xlsx / txt) on real files, and key-field extraction from Chinese text."""

from __future__ import annotations

from datetime import date

import pytest

from omniloop.plans import documents
from omniloop.plans.documents import DocumentError, extract_fields
from tests.plans.files import PLAN_TEXT_ZH, docx_bytes, encrypted_pdf_bytes, pdf_bytes, xlsx_bytes

MB = 2**20


def _fields(text: str) -> dict:
    return {s.field: s.value for s in extract_fields(text)}


def test_docx_paragraphs_and_tables_become_text():
    data = docx_bytes(table=[["渠道", "预算"], ["短信", "10万元"]])
    file_type, text = documents.parse(data, filename="方案.DOCX", max_bytes=MB)
    assert file_type == "docx"
    assert "活动名称：2026年信用卡新客首刷有礼" in text
    assert "短信\t10万元" in text


def test_xlsx_cells_become_text_per_sheet():
    data = xlsx_bytes([["项目", "内容"], ["活动预算", "500,000元"], ["活动时间", "2026-11-01 至 2026-11-30"],
                       ["预计触达", 120000]])
    file_type, text = documents.parse(data, filename="plan.xlsx", max_bytes=MB)
    assert file_type == "xlsx" and text.startswith("# 活动方案")
    assert "活动预算\t500,000元" in text and "预计触达\t120000" in text
    fields = _fields(text)
    assert fields["budget_fen"] == 50_000_000
    assert (fields["start_date"], fields["end_date"]) == (date(2026, 11, 1), date(2026, 11, 30))


@pytest.mark.parametrize("compress", [True, False])
def test_pdf_text_is_extracted(compress):
    data = pdf_bytes(["Campaign budget 500000 CNY", "Period 2026-12-01 - 2026-12-31"], compress=compress)
    file_type, text = documents.parse(data, filename="plan.pdf", max_bytes=MB)
    assert file_type == "pdf"
    assert "Campaign budget 500000 CNY" in text
    assert "2026-12-01" in text


def test_txt_in_utf8_and_gb18030():
    text = "\n".join(PLAN_TEXT_ZH)
    assert documents.parse(text.encode("utf-8"), filename="a.txt", max_bytes=MB)[1] == text
    assert documents.parse(text.encode("gb18030"), filename="a.md", max_bytes=MB)[1] == text


@pytest.mark.parametrize(("data", "filename", "code"), [
    (b"PK\x03\x04 not really a zip", "plan.docx", "document_corrupt"),
    (b"garbage", "plan.xlsx", "document_corrupt"),
    (b"%PDF-1.4\n1 0 obj\n<<", "plan.pdf", "document_corrupt"),
    (b"hello", "plan.pdf", "document_corrupt"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "plan.docx", "document_encrypted"),
    (b"", "plan.txt", "document_corrupt"),
    (b"x", "plan.exe", "document_type_unsupported"),
    (b"x", "no-extension", "document_type_unsupported"),
])
def test_unreadable_files_are_422_with_a_code(data, filename, code):
    with pytest.raises(DocumentError) as info:
        documents.parse(data, filename=filename, max_bytes=MB)
    assert (info.value.code, info.value.status) == (code, 422)


def test_encrypted_pdf_and_oversized_file():
    with pytest.raises(DocumentError) as info:
        documents.parse(encrypted_pdf_bytes(["secret plan"]), filename="p.pdf", max_bytes=MB)
    assert info.value.code == "document_encrypted"
    with pytest.raises(DocumentError) as info:
        documents.parse(docx_bytes(), filename="p.docx", max_bytes=1000)
    assert info.value.code == "document_too_large" and info.value.details["max_bytes"] == 1000


def test_docx_that_is_a_zip_of_something_else_is_corrupt():
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a word document")
    with pytest.raises(DocumentError) as info:
        documents.parse(buffer.getvalue(), filename="p.docx", max_bytes=MB)
    assert info.value.code == "document_corrupt"


def test_extracts_key_fields_from_a_chinese_plan():
    fields = _fields("\n".join(PLAN_TEXT_ZH))
    assert fields["title"] == "2026年信用卡新客首刷有礼"
    assert fields["budget_fen"] == 50_000_000  # 50万元
    assert (fields["start_date"], fields["end_date"]) == (date(2026, 12, 1), date(2026, 12, 31))
    assert fields["channels"] == ["sms", "app_push", "rm_task", "outbound_call"]
    assert fields["audience_description"] == "近30天新开卡且未首刷的零售客户"
    assert fields["lifecycle_stage"] == "novice"
    assert fields["benefit_type"] == "cash_coupon"


@pytest.mark.parametrize(("text", "fen"), [
    ("预算 50 万元", 50_000_000),
    ("预算：500,000元", 50_000_000),
    ("活动费用预算为 1.5万", 1_500_000),
    ("总投入约 2 亿元", 20_000_000_000),
    ("预算：12345.67元", 1_234_567),
])
def test_budget_forms(text, fen):
    assert _fields(text)["budget_fen"] == fen


@pytest.mark.parametrize(("text", "start", "end"), [
    ("2026年12月1日至2026年12月31日", date(2026, 12, 1), date(2026, 12, 31)),
    ("活动期间 2026年12月15日—1月15日", date(2026, 12, 15), date(2027, 1, 15)),
    ("2026/03/01 ~ 2026/03/31", date(2026, 3, 1), date(2026, 3, 31)),
])
def test_date_ranges(text, start, end):
    fields = _fields(text)
    assert (fields["start_date"], fields["end_date"]) == (start, end)


def test_nothing_is_proposed_from_text_without_fields():
    assert _fields("这是一段与活动无关的说明。2026年2月30日至2026年3月1日") == {}
