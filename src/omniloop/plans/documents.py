"""Plan documents (方案文档): parse .docx / .pdf / .xlsx / .txt / .md to text and propose key fields.

Parsing is pure (bytes in, text out) so it is tested on files written by the same libraries. A file that
cannot be read — corrupt, encrypted, too large, or of another type — raises a 422 with a machine-readable
code before anything is stored.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from omniloop.core.errors import OmniloopError

SUPPORTED_TYPES = ("docx", "pdf", "xlsx", "txt", "md")
MAX_TEXT_CHARS = 2_000_000  # what we keep of a document's text; the original file keeps everything
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Office files encrypted with a password are OLE containers
_UNZIP_RATIO = 100  # a .docx/.xlsx expanding more than this is treated as a zip bomb


class DocumentError(OmniloopError):
    status = 422


def unsupported(filename: str) -> DocumentError:
    return DocumentError(
        "不支持的文件类型，请上传 .docx、.pdf、.xlsx、.txt 或 .md 文件",
        "Unsupported file type; upload a .docx, .pdf, .xlsx, .txt or .md file",
        code="document_type_unsupported", details={"filename": filename, "supported": list(SUPPORTED_TYPES)},
    )


def too_large(size: int, limit: int) -> DocumentError:
    return DocumentError(
        f"文件过大（上限 {limit // 2**20} MB）", f"File too large (limit {limit // 2**20} MB)",
        code="document_too_large", details={"bytes": size, "max_bytes": limit},
    )


def _corrupt(file_type: str, reason: str) -> DocumentError:
    return DocumentError(
        "文件已损坏或格式不正确，无法解析", "The file is corrupt or not a valid document and cannot be parsed",
        code="document_corrupt", details={"file_type": file_type, "reason": reason[:300]},
    )


def _encrypted(file_type: str) -> DocumentError:
    return DocumentError(
        "文件已加密，请去除密码后重新上传", "The file is encrypted; remove the password and upload it again",
        code="document_encrypted", details={"file_type": file_type},
    )


def file_type_of(filename: str) -> str:
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix not in SUPPORTED_TYPES:
        raise unsupported(filename)
    return suffix


def _check_zip(data: bytes, file_type: str, limit: int) -> None:
    if data.startswith(_OLE_MAGIC):
        raise _encrypted(file_type)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise _corrupt(file_type, str(exc)) from exc
    if expanded > max(limit, len(data)) * _UNZIP_RATIO:
        raise _corrupt(file_type, "archive expands too much")


def _docx_text(data: bytes) -> str:
    import docx

    document = docx.Document(io.BytesIO(data))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.append("\t".join(cell.text for cell in row.cells))
    return "\n".join(parts)


def _xlsx_text(data: bytes) -> str:
    import openpyxl

    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        parts = []
        for sheet in workbook.worksheets:
            parts.append(f"# {sheet.title}")
            for row in sheet.iter_rows(values_only=True):
                cells = ["" if v is None else str(v) for v in row]
                if any(cells):
                    parts.append("\t".join(cells).rstrip())
        return "\n".join(parts)
    finally:
        workbook.close()


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        # An owner password alone (printing/copy restrictions) still opens with the empty user password.
        try:
            if not reader.decrypt(""):
                raise _encrypted("pdf")
        except (FileNotDecryptedError, NotImplementedError) as exc:
            raise _encrypted("pdf") from exc
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def _plain_text(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise _corrupt("txt", "not UTF-8 or GB18030 text")


def parse(data: bytes, *, filename: str, max_bytes: int) -> tuple[str, str]:
    """Return ``(file_type, text)`` of an uploaded document, or raise a ``DocumentError``."""
    file_type = file_type_of(filename)
    if len(data) > max_bytes:
        raise too_large(len(data), max_bytes)
    if not data:
        raise _corrupt(file_type, "empty file")
    try:
        if file_type in ("docx", "xlsx"):
            _check_zip(data, file_type, max_bytes)
            text = _docx_text(data) if file_type == "docx" else _xlsx_text(data)
        elif file_type == "pdf":
            if data.startswith(_OLE_MAGIC) or not data.lstrip()[:5] == b"%PDF-":
                raise _corrupt("pdf", "missing %PDF header")
            text = _pdf_text(data)
        else:
            text = _plain_text(data)
    except DocumentError:
        raise
    except Exception as exc:  # every parser has its own error types; all mean "cannot read this file"
        raise _corrupt(file_type, f"{type(exc).__name__}: {exc}") from exc
    text = text.replace("\x00", "")
    return file_type, text[:MAX_TEXT_CHARS]


# ---- key-field extraction from Chinese plan text ------------------------------------------------------

CHANNEL_KEYWORDS: list[tuple[str, str]] = [
    ("短信", "sms"),
    ("手机银行", "app_push"),
    ("APP推送", "app_push"),
    ("App推送", "app_push"),
    ("推送", "app_push"),
    ("消息中心", "in_app"),
    ("站内信", "in_app"),
    ("弹窗", "placement"),
    ("banner", "placement"),
    ("广告位", "placement"),
    ("企业微信", "wechat"),
    ("微信", "wechat"),
    ("公众号", "wechat"),
    ("外呼", "outbound_call"),
    ("电话", "outbound_call"),
    ("客户经理", "rm_task"),
    ("邮件", "email"),
]
LIFECYCLE_KEYWORDS: list[tuple[str, str]] = [
    ("新客", "novice"), ("新户", "novice"), ("获客", "novice"), ("首绑", "novice"),
    ("流失预警", "churn_risk"), ("流失", "churn_risk"), ("挽留", "churn_risk"), ("挽回", "churn_risk"),
    ("沉睡", "dormant"), ("睡眠", "dormant"), ("唤醒", "dormant"),
    ("成长", "growth"), ("提升", "growth"), ("促活", "growth"),
    ("成熟", "mature"), ("忠诚", "mature"),
]
BENEFIT_KEYWORDS: list[tuple[str, str]] = [
    ("加息券", "rate_coupon"), ("立减金", "cash_coupon"), ("红包", "cash_coupon"), ("现金", "cash_coupon"),
    ("积分", "points"), ("礼品", "gift"), ("实物", "gift"), ("免年费", "fee_waiver"), ("减免", "fee_waiver"),
]
_UNITS = {"元": Decimal(1), "万元": Decimal(10_000), "万": Decimal(10_000), "亿元": Decimal(10**8),
          "亿": Decimal(10**8), "千元": Decimal(1000)}
_BUDGET = re.compile(
    r"(?:预算|费用|投入|成本)[^0-9\n。；;]{0,12}?(?P<amount>\d[\d,，]*(?:\.\d+)?)\s*(?P<unit>亿元|万元|千元|亿|万|元)?"
)
_CN_DATE = r"(?P<{0}y>\d{{4}})\s*年\s*(?P<{0}m>\d{{1,2}})\s*月\s*(?P<{0}d>\d{{1,2}})\s*日?"
_ISO_DATE = r"(?P<{0}y>\d{{4}})[-/.](?P<{0}m>\d{{1,2}})[-/.](?P<{0}d>\d{{1,2}})"
_RANGE_SEP = r"\s*(?:至|到|~|～|—|－|-|–)\s*"
_DATE_RANGES = [
    re.compile(_CN_DATE.format("s") + _RANGE_SEP + _CN_DATE.format("e")),
    re.compile(_CN_DATE.format("s") + _RANGE_SEP
               + r"(?:(?P<ey>\d{4})\s*年\s*)?(?P<em>\d{1,2})\s*月\s*(?P<ed>\d{1,2})\s*日?"),
    re.compile(_ISO_DATE.format("s") + _RANGE_SEP + _ISO_DATE.format("e")),
]
_AUDIENCE = re.compile(r"(?:目标客群|目标客户|活动对象|参与对象|目标人群|客群定位)\s*[:：为是]?\s*(?P<text>[^\n。；;]{2,300})")
_TITLE = re.compile(r"(?:活动名称|方案名称|活动主题)\s*[:：]\s*(?P<text>[^\n。；;]{2,200})")
_OBJECTIVE = re.compile(r"(?:活动目标|活动目的|营销目标)\s*[:：]?\s*(?P<text>[^\n。；;]{2,500})")


@dataclass(frozen=True)
class Suggestion:
    field: str
    value: Any
    evidence: str  # the text the value was read from

    def as_dict(self) -> dict:
        value = self.value.isoformat() if isinstance(self.value, date) else self.value
        return {"field": self.field, "value": value, "evidence": self.evidence}


def _evidence(text: str, match: re.Match) -> str:
    start, end = max(0, match.start() - 10), min(len(text), match.end() + 10)
    return text[start:end].replace("\n", " ").strip()


def _budget_fen(match: re.Match) -> int | None:
    try:
        amount = Decimal(match["amount"].replace(",", "").replace("，", ""))
    except InvalidOperation:
        return None
    fen = amount * _UNITS.get(match["unit"] or "元", Decimal(1)) * 100
    return int(fen) if 0 <= fen <= 10**15 else None


def _date_range(match: re.Match) -> tuple[date, date] | None:
    try:
        start = date(int(match["sy"]), int(match["sm"]), int(match["sd"]))
        end_year = int(match["ey"]) if match["ey"] else start.year
        end = date(end_year, int(match["em"]), int(match["ed"]))
    except ValueError:
        return None
    if not match["ey"] and end < start:  # "12月1日至1月31日" crosses the new year
        try:
            end = end.replace(year=end.year + 1)
        except ValueError:
            return None
    return (start, end) if start <= end else None


def _keywords(text: str, table: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(code, keyword) for every code whose keyword occurs, in order of first occurrence in the text."""
    found: dict[str, tuple[int, str]] = {}
    lowered = text.lower()
    for keyword, code in table:
        at = lowered.find(keyword.lower())
        if at >= 0 and (code not in found or at < found[code][0]):
            found[code] = (at, keyword)
    return [(code, kw) for code, (_, kw) in sorted(found.items(), key=lambda item: item[1][0])]


def extract_fields(text: str) -> list[Suggestion]:
    """Propose plan fields found in a plan's text. Proposals only: the author decides what to take."""
    suggestions: list[Suggestion] = []
    if match := _TITLE.search(text):
        suggestions.append(Suggestion("title", match["text"].strip(), _evidence(text, match)))
    if match := _OBJECTIVE.search(text):
        suggestions.append(Suggestion("objective", match["text"].strip(), _evidence(text, match)))
    for match in _BUDGET.finditer(text):
        fen = _budget_fen(match)
        if fen:
            suggestions.append(Suggestion("budget_fen", fen, _evidence(text, match)))
            break
    for pattern in _DATE_RANGES:
        match = pattern.search(text)
        if match and (dates := _date_range(match)):
            suggestions.append(Suggestion("start_date", dates[0], _evidence(text, match)))
            suggestions.append(Suggestion("end_date", dates[1], _evidence(text, match)))
            break
    channels = _keywords(text, CHANNEL_KEYWORDS)
    if channels:
        suggestions.append(Suggestion("channels", [code for code, _ in channels],
                                      "、".join(kw for _, kw in channels)))
    if match := _AUDIENCE.search(text):
        suggestions.append(Suggestion("audience_description", match["text"].strip(), _evidence(text, match)))
    if stages := _keywords(text, LIFECYCLE_KEYWORDS):
        suggestions.append(Suggestion("lifecycle_stage", stages[0][0], stages[0][1]))
    if benefits := _keywords(text, BENEFIT_KEYWORDS):
        suggestions.append(Suggestion("benefit_type", benefits[0][0], benefits[0][1]))
    return suggestions
