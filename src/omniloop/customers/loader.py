"""Bulk load of customer master data (客户主数据批量导入) from CSV, Parquet and Excel (.xlsx).

The file
--------
A header row naming the columns, then one row a customer. Column names are the fields of ``Customer``:

============================  =========================================================================
``customer_no``               required; at most 32 letters, digits, ``-`` or ``_``; the upsert key
``org_code`` or ``org_id``    the customer's org (usually a sub-branch, 支行); required for new customers
``rm_username`` or ``rm_id``  the assigned RM (管户客户经理): an active user with role ``rm`` whose org lies in
                              the customer's org subtree; an empty cell unassigns
``name``                      required for new customers; at most 100 characters
``gender``                    ``M`` / ``F`` (``男`` / ``女`` accepted)
``birth_date``                ``YYYY-MM-DD`` (also ``YYYY/M/D``, ``YYYYMMDD``, Excel dates)
``phone``                     mainland mobile ``1[3-9]`` + 9 digits (a ``+86`` prefix is dropped) or a
                              landline ``0xx-xxxxxxxx``
``id_number``                 18-character resident ID (居民身份证号: check digit and a real birth date, which
                              must match ``birth_date`` and ``gender`` when given) or a company's unified
                              social credit code (统一社会信用代码, check character)
``risk_level``                KYC risk level ``R1`` … ``R5``
``segment``                   ``retail`` (default) / ``private`` / ``corporate`` / ``small_business``
``deposit_fen`` ``wealth_fen`` ``fund_fen`` ``insurance_fen`` ``loan_fen``
                              balances in integer fen (分), >= 0 — not yuan: 1 234.56 yuan is ``123456``
``aum_fen``                   AUM in integer fen, at least the sum of the four asset columns; when the
                              column is absent and all four asset columns are present, their sum
``has_credit_card`` ``credit_card_activated`` ``payroll_flag``
                              ``true``/``false``, ``1``/``0``, ``yes``/``no``, ``Y``/``N``, ``是``/``否``
``app_logins_month``          app logins in the latest month, integer >= 0
``first_account_date``        date of the first account, as ``birth_date``
============================  =========================================================================

Other columns are ignored and listed in the report; ``lifecycle_stage`` belongs to the lifecycle model.

What a load does
----------------
* Upsert by ``customer_no`` (增量更新): unknown numbers are inserted, known ones updated in the columns the
  file carries and no others — a daily balance file needs only ``customer_no`` and the money columns.
* An empty cell is "no value": NULL for optional fields, the default (0, false, ``retail``) otherwise.
* Rows are numbered as a spreadsheet shows them: the header is row 1, the first customer row 2.
* Every row is validated. Any error loads nothing, unless ``skip_invalid``: then the valid rows load and
  the others are reported. Errors carry row, column, code and a Chinese and English message; the report
  keeps the first ``MAX_ERRORS``.
* With a ``scope`` (a user's org), rows may only name orgs inside it and only touch customers inside it.
* One audit record a load, with the counts.
"""

from __future__ import annotations

import codecs
import csv
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, aliased

from omniloop.core import audit
from omniloop.core.audit import SYSTEM, Actor
from omniloop.core.db import utcnow
from omniloop.core.errors import OmniloopError
from omniloop.customers.models import Customer
from omniloop.org.models import Org, User
from omniloop.org.roles import Role

MAX_ERRORS = 1000
CHUNK_ROWS = 5000
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".xlsx": "xlsx"}

ASSETS = ("deposit_fen", "wealth_fen", "fund_fen", "insurance_fen")
MONEY = (*ASSETS, "loan_fen", "aum_fen")
FLAGS = ("has_credit_card", "credit_card_activated", "payroll_flag")
COLUMNS = (
    "customer_no", "org_code", "org_id", "rm_username", "rm_id", "name", "gender", "birth_date", "phone",
    "id_number", "risk_level", "segment", *MONEY, *FLAGS, "app_logins_month", "first_account_date",
)
SEGMENTS = ("retail", "private", "corporate", "small_business")

Progress = Callable[[int, int | None], None]


# ---- errors and the report -----------------------------------------------------------------------

class UnsupportedFileType(OmniloopError):
    code, status = "unsupported_file_type", 415
    message_zh = "不支持的文件类型，请上传 CSV、Parquet 或 Excel（.xlsx）文件"
    message_en = "Unsupported file type; upload a CSV, Parquet or Excel (.xlsx) file"


class ImportFileUnreadable(OmniloopError):
    code, status = "import_unreadable_file", 422
    message_zh = "无法读取导入文件，文件可能已损坏或与扩展名不符"
    message_en = "The file cannot be read; it may be damaged or not match its extension"


class ImportFileTooLarge(OmniloopError):
    code, status = "import_file_too_large", 413
    message_zh, message_en = "导入文件过大", "The file is too large to import"


class ImportInvalidRows(OmniloopError):
    code, status = "import_invalid_rows", 422
    message_zh, message_en = "导入文件存在错误，未导入任何数据", "The file has errors; nothing was loaded"


class RowError(BaseModel):
    row: int  # header = row 1
    column: str | None
    code: str
    message_zh: str
    message_en: str


class LoadReport(BaseModel):
    """The outcome of one load (导入结果)."""

    file_name: str
    file_format: str
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    skipped: int = 0
    error_count: int = 0
    errors: list[RowError] = []
    errors_truncated: bool = False
    ignored_columns: list[str] = []
    loaded: bool = False
    seconds: float = 0.0


# ---- identity numbers ----------------------------------------------------------------------------
# GB 11643 (resident ID) and GB 32100 (unified social credit code) check characters, on matrices of
# ASCII bytes so that a million numbers are checked (or, by the demo generator, made) at once.

_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_ID_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)
USCC_ALPHABET = b"0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = np.full(256, 0, dtype=np.int64)
_USCC_VALUE[np.frombuffer(USCC_ALPHABET, dtype=np.uint8)] = np.arange(len(USCC_ALPHABET))
_USCC_WEIGHTS = np.array([pow(3, i, 31) for i in range(17)], dtype=np.int64)


def resident_id_check_chars(body: np.ndarray) -> np.ndarray:
    """Check characters of resident IDs from their first 17 digits, an ``(n, 17)`` ASCII matrix."""
    return _ID_CHECK[((body.astype(np.int64) - ord("0")) @ _ID_WEIGHTS) % 11]


def uscc_check_chars(body: np.ndarray) -> np.ndarray:
    """Check characters of unified social credit codes from their first 17 characters."""
    return np.frombuffer(USCC_ALPHABET, dtype=np.uint8)[(31 - (_USCC_VALUE[body] @ _USCC_WEIGHTS) % 31) % 31]


# ---- reading files as columns of text ------------------------------------------------------------

def detect_format(file_name: str) -> str:
    fmt = FORMATS.get(Path(file_name).suffix.lower())
    if fmt is None:
        raise UnsupportedFileType(details={"file_name": file_name, "supported": sorted(FORMATS)})
    return fmt


@dataclass
class _Source:
    columns: list[str]
    total: int | None  # rows, when the format tells cheaply
    chunks: Iterator[tuple[pa.Table, np.ndarray]]  # text columns, spreadsheet row numbers
    malformed: list[RowError] = field(default_factory=list)  # CSV lines with the wrong number of fields

    def drain_malformed(self) -> list[RowError]:
        found, self.malformed[:] = list(self.malformed), []
        return found


def _open(path: Path, fmt: str, chunk_rows: int) -> _Source:
    try:
        if fmt == "csv":
            return _open_csv(path, chunk_rows)
        if fmt == "parquet":
            return _open_parquet(path, chunk_rows)
        return _open_xlsx(path, chunk_rows)
    except (OSError, pa.ArrowException, ValueError, KeyError, UnicodeDecodeError) as exc:
        raise ImportFileUnreadable(details={"reason": str(exc)[:300]}) from exc


def _csv_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) or, as Excel on Chinese Windows saves CSV, GB18030."""
    with path.open("rb") as fh:
        head = fh.read(1 << 20)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
    except UnicodeDecodeError:
        return "gb18030"


def _open_csv(path: Path, chunk_rows: int) -> _Source:
    import pyarrow.csv as pacsv

    encoding = _csv_encoding(path)
    with path.open(encoding=encoding, newline="") as fh:
        header = next(csv.reader(fh), [])
    with path.open("rb") as fh:
        lines = sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b""))
    columns = [c.strip() for c in header]
    malformed: list[RowError] = []
    skipped_lines: list[int] = []

    def on_malformed(row) -> str:
        zh, en = _message("malformed_line", row.expected_columns)
        malformed.append(RowError(row=row.number or 0, column=None, code="malformed_line", message_zh=zh,
                                  message_en=en))
        skipped_lines.append(row.number or 0)
        return "skip"

    def chunks() -> Iterator[tuple[pa.Table, np.ndarray]]:
        if not columns:
            return
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(
                encoding="utf8" if encoding.startswith("utf-8") else encoding, skip_rows=1,
                column_names=[f"c{i}" for i in range(len(columns))], block_size=4 << 20,
                use_threads=False,  # keeps malformed-line callbacks in step with the batches
            ),
            # Every column as text: type inference would turn an ID like 0571... into a number.
            convert_options=pacsv.ConvertOptions(
                column_types={f"c{i}": pa.string() for i in range(len(columns))},
                strings_can_be_null=False, quoted_strings_can_be_null=False,
            ),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_malformed),
        )
        row = 2
        for batch in reader:
            # Records are numbered by line; lines skipped as malformed keep their numbers.
            pending = np.array(skipped_lines, dtype=np.int64)
            skipped_lines.clear()
            candidates = np.arange(row, row + batch.num_rows + len(pending))
            numbers = candidates[~np.isin(candidates, pending)][: batch.num_rows]
            row = max([row - 1, *numbers[-1:].tolist(), *pending.tolist()]) + 1
            table = pa.Table.from_batches([batch]).rename_columns(columns)
            for offset in range(0, table.num_rows, chunk_rows):
                yield table.slice(offset, chunk_rows), numbers[offset: offset + chunk_rows]

    return _Source(columns, max(lines - 1, 0), chunks(), malformed)


def _open_parquet(path: Path, chunk_rows: int) -> _Source:
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)

    def chunks() -> Iterator[tuple[pa.Table, np.ndarray]]:
        row = 2
        for batch in parquet.iter_batches(batch_size=chunk_rows):
            yield pa.Table.from_batches([batch]), np.arange(row, row + batch.num_rows)
            row += batch.num_rows

    return _Source(list(parquet.schema_arrow.names), parquet.metadata.num_rows, chunks())


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel keeps numbers as floats: a phone typed as a number is 13812345678.0
    return str(value)


def _open_xlsx(path: Path, chunk_rows: int) -> _Source:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds of error for a file that is not a workbook
        reason = f"not an Excel .xlsx workbook ({type(exc).__name__})"
        raise ImportFileUnreadable(details={"reason": reason}) from exc
    sheet = workbook.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = next(rows, None) or ()
    columns = ["" if c is None else str(c).strip() for c in header]
    while columns and not columns[-1]:
        columns.pop()
    width = len(columns)

    def chunks() -> Iterator[tuple[pa.Table, np.ndarray]]:
        buffer: list[list[str | None]] = [[] for _ in range(width)]
        numbers: list[int] = []
        for number, values in enumerate(rows, start=2):
            cells = [_cell_text(v) for v in values[:width]]
            if not any(c not in (None, "") for c in cells):
                continue  # blank rows (often just formatting) are not customers
            cells += [None] * (width - len(cells))
            for j in range(width):
                buffer[j].append(cells[j])
            numbers.append(number)
            if len(numbers) == chunk_rows:
                yield pa.table([pa.array(b, pa.string()) for b in buffer], names=columns), np.array(numbers)
                buffer, numbers = [[] for _ in range(width)], []
        if numbers:
            yield pa.table([pa.array(b, pa.string()) for b in buffer], names=columns), np.array(numbers)
        workbook.close()

    total = (sheet.max_row - 1) if sheet.max_row else None
    return _Source(columns, total, chunks())


def _as_text(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Any Arrow column as trimmed text with empty cells as null, so every format validates alike."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    kind = arr.type
    if pa.types.is_dictionary(kind):
        arr = arr.dictionary_decode()
        kind = arr.type
    if pa.types.is_floating(kind):
        integral = pc.fill_null(pc.equal(arr, pc.floor(arr)), False)
        whole = pc.cast(pc.if_else(integral, arr, None), pa.int64(), safe=False)
        arr = pc.if_else(integral, pc.cast(whole, pa.string()), pc.cast(arr, pa.string()))
    elif pa.types.is_timestamp(kind):
        day = pc.cast(arr, pa.date32())
        midnight = pc.equal(pc.cast(day, kind), arr)
        arr = pc.if_else(midnight, pc.cast(day, pa.string()), pc.cast(arr, pa.string()))
    elif pa.types.is_null(kind):
        arr = pa.nulls(len(arr), pa.string())
    elif not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        arr = pc.cast(arr, pa.string())
    arr = pc.utf8_trim_whitespace(pc.cast(arr, pa.string()))
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


# ---- column validation (vectorised) --------------------------------------------------------------

_M = {  # message templates: code → (zh, en)
    "required": ("必填项不能为空", "Required value is missing"),
    "too_long": ("内容过长（最多 {n} 个字符）", "Too long (at most {n} characters)"),
    "customer_no_format": ("客户号只能包含字母、数字、- 和 _", "Customer number may only contain letters, digits, - and _"),
    "not_integer": ("应为不小于 0 的整数", "Must be a whole number, 0 or more"),
    "not_fen": ("金额应为以分为单位的非负整数（1234.56 元写作 123456）",
                "Amount must be a whole number of fen, 0 or more (1234.56 yuan is 123456)"),
    "too_large": ("数值过大", "Number too large"),
    "not_bool": ("应为 true/false、1/0、是/否", "Must be true/false, 1/0 or yes/no"),
    "not_date": ("日期格式应为 YYYY-MM-DD", "Date must be YYYY-MM-DD"),
    "no_such_date": ("日期不存在（如 2 月 30 日）", "No such date (such as 30 February)"),
    "date_range": ("日期不在合理范围内（1900 年至今）", "Date out of range (1900 to today)"),
    "gender": ("性别应为 M/F（男/女）", "Gender must be M or F"),
    "risk_level": ("风险等级应为 R1–R5", "Risk level must be R1 to R5"),
    "segment": ("客户类型应为 retail/private/corporate/small_business",
                "Segment must be retail, private, corporate or small_business"),
    "phone": ("手机号应为 11 位大陆手机号（或 0 开头的固定电话）",
              "Phone must be an 11-digit mainland mobile (or a landline starting with 0)"),
    "id_format": ("证件号码应为 18 位身份证号或统一社会信用代码",
                  "ID number must be an 18-character resident ID or unified social credit code"),
    "id_check": ("证件号码校验位不正确", "ID number check character is wrong"),
    "id_birth": ("身份证号中的出生日期无效", "The birth date inside the ID number is not a valid date"),
    "id_birth_mismatch": ("出生日期与身份证号不一致", "Birth date does not match the ID number"),
    "id_gender_mismatch": ("性别与身份证号不一致", "Gender does not match the ID number"),
    "aum_below_assets": ("AUM 不能小于存款、理财、基金、保险余额之和",
                         "AUM cannot be less than deposits + wealth + funds + insurance"),
    "card_not_held": ("未持有信用卡不能为已激活", "A card cannot be activated when no credit card is held"),
    "duplicate_in_file": ("客户号在文件中重复（首次出现在第 {n} 行）", "Customer number repeated (first at row {n})"),
    "duplicate": ("客户号在文件中重复出现", "Customer number appears more than once in the file"),
    "unknown_org": ("机构不存在", "No such org"),
    "org_out_of_scope": ("机构不在您的管辖范围内", "Org is outside your scope"),
    "customer_out_of_scope": ("该客户属于您管辖范围以外的机构", "This customer belongs to an org outside your scope"),
    "new_needs_org": ("新客户必须提供机构（org_code 或 org_id）", "A new customer needs an org (org_code or org_id)"),
    "new_needs_name": ("新客户必须提供姓名（name）", "A new customer needs a name"),
    "unknown_rm": ("客户经理不存在或已停用", "No such active RM"),
    "not_rm": ("该用户不是客户经理", "This user is not an RM"),
    "rm_not_in_org": ("客户经理不属于该客户所在机构", "The RM does not belong to the customer's org"),
    "rm_left_behind": ("客户调整机构后原客户经理不在新机构内，请同时提供 rm_username",
                       "The customer's RM is not in the new org; give rm_username too"),
    "missing_column": ("缺少必需的列", "Required column is missing"),
    "conflicting_columns": ("{n} 只能二选一", "Give only one of {n}"),
    "partial_assets": ("未提供 aum_fen 时须同时提供四个资产列", "Without aum_fen, all four asset columns are needed"),
    "duplicate_column": ("列名重复", "Column name repeated"),
    "malformed_line": ("该行的列数与表头不一致（应为 {n} 列）", "Wrong number of fields on this line (expected {n})"),
    "unsupported_column_type": ("列的数据类型不支持", "Unsupported column data type"),
}

_ORDER = {c: i for i, c in enumerate(COLUMNS)}
_CUSTOMER_NO = r"^[A-Za-z0-9_-]+$"
_MOBILE = r"^1[3-9][0-9]{9}$"
_LANDLINE = r"^0[0-9]{2,3}-?[0-9]{7,8}(-[0-9]{1,6})?$"
_RESIDENT_ID = r"^[0-9]{17}[0-9X]$"
_USCC = r"^[0-9A-HJ-NP-RTUWXY]{2}[0-9]{6}[0-9A-HJ-NP-RTUWXY]{10}$"
_DATE_PATTERNS = (
    r"^(?P<y>[0-9]{4})-(?P<m>[0-9]{1,2})-(?P<d>[0-9]{1,2})(?:[ T]00:00(?::00)?)?$",
    r"^(?P<y>[0-9]{4})/(?P<m>[0-9]{1,2})/(?P<d>[0-9]{1,2})(?:[ T]00:00(?::00)?)?$",
    r"^(?P<y>[0-9]{4})(?P<m>[0-9]{2})(?P<d>[0-9]{2})$",
)
_TRUE = ("true", "1", "yes", "y", "t", "是")
_FALSE = ("false", "0", "no", "n", "f", "否")
_MAX_FEN = 10**15  # a quadrillion fen, 10 trillion yuan: more than any customer holds
_FIRST_DAY = np.datetime64("1900-01-01")


def _message(code: str, n: object = None) -> tuple[str, str]:
    zh, en = _M[code]
    return zh.format(n=n), en.format(n=n)


class _Errors:
    """Errors of one chunk: per kind, the positions (0-based, within the chunk) of the rows it hits."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: list[tuple[np.ndarray, str | None, str, tuple[str, str]]] = []

    def add(self, mask: np.ndarray | pa.Array, column: str | None, code: str, n: object = None) -> None:
        if isinstance(mask, pa.Array | pa.ChunkedArray):
            mask = pc.fill_null(mask, False).to_numpy(zero_copy_only=False)
        positions = np.flatnonzero(mask)
        if len(positions):
            self.items.append((positions, column, code, _message(code, n)))

    def add_row(self, position: int, column: str | None, code: str, n: object = None) -> None:
        self.items.append((np.array([position]), column, code, _message(code, n)))

    def bad_rows(self) -> np.ndarray:
        bad = np.zeros(self.size, dtype=bool)
        for positions, *_ in self.items:
            bad[positions] = True
        return bad

    def rows(self, numbers: np.ndarray) -> list[RowError]:
        found = [(int(numbers[i]), _ORDER.get(column or "", -1), column, code, messages)
                 for positions, column, code, messages in self.items for i in positions]
        found.sort(key=lambda e: (e[0], e[1]))
        return [RowError(row=row, column=column, code=code, message_zh=zh, message_en=en)
                for row, _, column, code, (zh, en) in found]


def _matches(text: pa.Array, pattern: str) -> pa.Array:
    return pc.fill_null(pc.match_substring_regex(text, pattern), False)


def _parse_text(text: pa.Array, errors: _Errors, column: str, *, max_len: int, required: bool = False,
                pattern: str | None = None, pattern_code: str = "") -> pa.Array:
    present = pc.is_valid(text)
    if required:
        errors.add(pc.invert(present), column, "required")
    errors.add(pc.greater(pc.utf8_length(text), max_len), column, "too_long", max_len)
    if pattern:
        errors.add(pc.and_(present, pc.invert(_matches(text, pattern))), column, pattern_code)
    return text


def _parse_choice(
    text: pa.Array, errors: _Errors, column: str, choices: dict[str, str], code: str
) -> pa.Array:
    keys = list(choices)
    index = pc.index_in(pc.utf8_lower(text), value_set=pa.array([k.lower() for k in keys]))
    errors.add(pc.and_(pc.is_valid(text), pc.is_null(index)), column, code)
    return pa.array(list(choices.values()), pa.string()).take(index)


def _parse_int(text: pa.Array, errors: _Errors, column: str, *, code: str = "not_integer",
               maximum: int = 2**31 - 1) -> pa.Array:
    ok = _matches(text, r"^\+?[0-9]{1,18}$")
    errors.add(pc.and_(pc.is_valid(text), pc.invert(ok)), column, code)
    values = pc.cast(pc.if_else(ok, pc.replace_substring(text, "+", ""), None), pa.int64())
    errors.add(pc.greater(values, maximum), column, "too_large")
    return pc.if_else(pc.fill_null(pc.less_equal(values, maximum), False), values, None)


def _parse_bool(text: pa.Array, errors: _Errors, column: str) -> pa.Array:
    choices = {**{t: "true" for t in _TRUE}, **{f: "false" for f in _FALSE}}
    return pc.equal(_parse_choice(text, errors, column, choices, "not_bool"), "true")


def _parse_date(text: pa.Array, errors: _Errors, column: str, today: date) -> pa.Array:
    """Dates in three spellings; impossible ones (2023-02-30) are errors, not rolled over."""
    y = np.zeros(len(text), dtype=np.int64)
    m = np.zeros(len(text), dtype=np.int64)
    d = np.zeros(len(text), dtype=np.int64)
    parsed = np.zeros(len(text), dtype=bool)
    for pattern in _DATE_PATTERNS:
        parts = pc.extract_regex(text, pattern)
        hit = pc.fill_null(pc.is_valid(parts), False).to_numpy(zero_copy_only=False) & ~parsed
        if hit.any():
            for target, name in ((y, "y"), (m, "m"), (d, "d")):
                values = pc.cast(pc.if_else(pa.array(hit), pc.struct_field(parts, name), "0"), pa.int64())
                target[hit] = values.to_numpy(zero_copy_only=False)[hit]
            parsed |= hit
    month = (y - 1970) * 12 + (m - 1)
    month_start = month.astype("datetime64[M]").astype("datetime64[D]")
    next_start = (month + 1).astype("datetime64[M]").astype("datetime64[D]")
    month_length = (next_start - month_start).astype(np.int64)
    valid = parsed & (m >= 1) & (m <= 12) & (d >= 1) & (d <= month_length)
    days = month_start + np.where(valid, d - 1, 0)
    present = pc.is_valid(text).to_numpy(zero_copy_only=False)
    errors.add(present & ~parsed, column, "not_date")
    errors.add(parsed & ~valid, column, "no_such_date")
    in_range = valid & (days >= _FIRST_DAY) & (days <= np.datetime64(today))
    errors.add(valid & ~in_range, column, "date_range")
    return pa.array(days, type=pa.date32(), mask=~in_range)


def _fixed_bytes(arr: pa.Array, width: int) -> np.ndarray:
    """The bytes of a null-free string array whose values all have ``width`` bytes, as a matrix."""
    if len(arr) == 0:
        return np.zeros((0, width), dtype=np.uint8)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset: arr.offset + len(arr) + 1]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)
    return data[offsets[0]: offsets[-1]].reshape(len(arr), width)


def _parse_id_number(
    text: pa.Array, errors: _Errors, *, birth: pa.Array | None, gender: pa.Array | None
) -> pa.Array:
    text = pc.utf8_upper(text)
    n = len(text)
    present = pc.is_valid(text).to_numpy(zero_copy_only=False)
    resident_shape = _matches(text, _RESIDENT_ID).to_numpy(zero_copy_only=False)
    uscc_shape = _matches(text, _USCC).to_numpy(zero_copy_only=False)

    resident_ok = np.zeros(n, dtype=bool)
    resident_date_ok = np.zeros(n, dtype=bool)
    id_birth = np.zeros(n, dtype="datetime64[D]")
    id_female = np.zeros(n, dtype=bool)
    where = np.flatnonzero(resident_shape)
    if len(where):
        chars = _fixed_bytes(text.filter(pa.array(resident_shape)), 18)
        resident_ok[where] = resident_id_check_chars(chars[:, :17]) == chars[:, 17]
        digits = chars[:, 6:14].astype(np.int64) - ord("0")
        year = digits[:, 0] * 1000 + digits[:, 1] * 100 + digits[:, 2] * 10 + digits[:, 3]
        month = digits[:, 4] * 10 + digits[:, 5]
        day = digits[:, 6] * 10 + digits[:, 7]
        month_index = (year - 1970) * 12 + (month - 1)
        start = month_index.astype("datetime64[M]").astype("datetime64[D]")
        length = ((month_index + 1).astype("datetime64[M]").astype("datetime64[D]") - start).astype(np.int64)
        good_date = (year >= 1900) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= length)
        resident_date_ok[where] = good_date
        id_birth[where] = start + np.where(good_date, day - 1, 0)
        id_female[where] = (chars[:, 16] - ord("0")) % 2 == 0
    uscc_ok = np.zeros(n, dtype=bool)
    where_uscc = np.flatnonzero(uscc_shape)
    if len(where_uscc):
        chars = _fixed_bytes(text.filter(pa.array(uscc_shape)), 18)
        uscc_ok[where_uscc] = uscc_check_chars(chars[:, :17]) == chars[:, 17]

    resident = resident_shape & resident_ok & resident_date_ok
    valid = resident | (uscc_shape & uscc_ok)
    errors.add(present & ~resident_shape & ~uscc_shape, "id_number", "id_format")
    errors.add(present & ~valid & resident_shape & ~resident_ok, "id_number", "id_check")
    errors.add(present & ~valid & resident_shape & resident_ok & ~resident_date_ok, "id_number", "id_birth")
    errors.add(present & uscc_shape & ~resident_shape & ~uscc_ok, "id_number", "id_check")
    if birth is not None:
        given = pc.is_valid(birth).to_numpy(zero_copy_only=False)
        birth_days = pc.fill_null(birth, date(1970, 1, 1)).to_numpy(zero_copy_only=False)
        birth_days = birth_days.astype("datetime64[D]")
        errors.add(resident & given & (birth_days != id_birth), "birth_date", "id_birth_mismatch")
    if gender is not None:
        given = pc.is_valid(gender).to_numpy(zero_copy_only=False)
        female = pc.fill_null(pc.equal(gender, "F"), False).to_numpy(zero_copy_only=False)
        errors.add(resident & given & (female != id_female), "gender", "id_gender_mismatch")
    return text


@dataclass
class _Plan:
    """What the header tells: which fields the file sets, how org and RM are named, what is derived."""

    columns: list[str]  # recognised columns, in file order
    ignored: list[str]
    org_by: str | None  # org_code / org_id
    rm_by: str | None  # rm_username / rm_id
    derive_aum: bool
    header_errors: list[RowError] = field(default_factory=list)

    @property
    def fields(self) -> list[str]:
        """Customer attributes written by this file."""
        names = [c for c in self.columns if c not in ("org_code", "org_id", "rm_username", "rm_id")]
        names += ["org_id"] if self.org_by else []
        names += ["rm_id"] if self.rm_by else []
        names += ["aum_fen"] if self.derive_aum else []
        return names


def _plan(columns: list[str]) -> _Plan:
    errors: list[RowError] = []

    def header_error(column: str | None, code: str, n: object = None) -> None:
        zh, en = _message(code, n)
        errors.append(RowError(row=1, column=column, code=code, message_zh=zh, message_en=en))

    names = [c.lstrip("\ufeff").strip().lower() for c in columns]
    seen: set[str] = set()
    for name in names:
        if name in seen and name in COLUMNS:
            header_error(name, "duplicate_column")
        seen.add(name)
    known = [c for c in dict.fromkeys(names) if c in COLUMNS]
    ignored = [c for c, n in zip(columns, names, strict=True) if n not in COLUMNS]
    if "customer_no" not in known:
        header_error("customer_no", "missing_column")
    org_by = [c for c in ("org_code", "org_id") if c in known]
    rm_by = [c for c in ("rm_username", "rm_id") if c in known]
    for pair in (org_by, rm_by):
        if len(pair) > 1:
            header_error(pair[1], "conflicting_columns", " / ".join(pair))
    assets = [c for c in ASSETS if c in known]
    derive_aum = "aum_fen" not in known and len(assets) == len(ASSETS)
    if "aum_fen" not in known and 0 < len(assets) < len(ASSETS):
        header_error("aum_fen", "partial_assets")
    return _Plan(known, ignored, next(iter(org_by), None), next(iter(rm_by), None), derive_aum, errors)


def _parse_chunk(table: pa.Table, plan: _Plan, today: date) -> tuple[dict[str, pa.Array], _Errors]:
    """Format checks on whole columns. Values that fail come back as null (their row is in error)."""
    lower = {c.lstrip("\ufeff").strip().lower(): c for c in table.column_names}
    errors = _Errors(table.num_rows)
    text: dict[str, pa.Array] = {}
    for column in plan.columns:
        try:
            text[column] = _as_text(table[lower[column]])
        except pa.ArrowException:
            errors.add(np.ones(table.num_rows, dtype=bool), column, "unsupported_column_type")
            text[column] = pa.nulls(table.num_rows, pa.string())
    values: dict[str, pa.Array] = {}
    values["customer_no"] = _parse_text(text["customer_no"], errors, "customer_no", max_len=32, required=True,
                                        pattern=_CUSTOMER_NO, pattern_code="customer_no_format")
    for column in plan.columns:
        raw = text[column]
        if column == "org_code":
            values[column] = _parse_text(raw, errors, column, max_len=32, required=True)
        elif column in ("org_id", "rm_id"):
            values[column] = _parse_int(raw, errors, column, maximum=2**62)
            if column == "org_id":
                errors.add(pc.is_null(raw), column, "required")
        elif column == "rm_username":
            values[column] = _parse_text(raw, errors, column, max_len=64)
        elif column == "name":
            values[column] = _parse_text(raw, errors, column, max_len=100, required=True)
        elif column == "gender":
            values[column] = _parse_choice(raw, errors, column, {"M": "M", "F": "F", "男": "M", "女": "F",
                                                                 "male": "M", "female": "F"}, "gender")
        elif column in ("birth_date", "first_account_date"):
            values[column] = _parse_date(raw, errors, column, today)
        elif column == "phone":
            phone = pc.replace_substring_regex(raw, r"[ ]", "")
            phone = pc.replace_substring_regex(phone, r"^\+?86-?(1[0-9]{10})$", r"\1")
            well_formed = pc.or_(_matches(phone, _MOBILE), _matches(phone, _LANDLINE))
            errors.add(pc.and_(pc.is_valid(phone), pc.invert(well_formed)), column, "phone")
            values[column] = phone
        elif column == "risk_level":
            levels = {f"R{i}": f"R{i}" for i in range(1, 6)}
            values[column] = _parse_choice(raw, errors, column, levels, "risk_level")
        elif column == "segment":
            segment = _parse_choice(raw, errors, column, {s: s for s in SEGMENTS}, "segment")
            values[column] = pc.fill_null(segment, "retail")
        elif column in MONEY:
            fen = _parse_int(raw, errors, column, code="not_fen", maximum=_MAX_FEN)
            values[column] = pc.fill_null(fen, 0)
        elif column in FLAGS:
            values[column] = pc.fill_null(_parse_bool(raw, errors, column), False)
        elif column == "app_logins_month":
            values[column] = pc.fill_null(_parse_int(raw, errors, column, maximum=1_000_000), 0)
    if "id_number" in plan.columns:
        values["id_number"] = _parse_id_number(text["id_number"], errors, birth=values.get("birth_date"),
                                               gender=values.get("gender"))

    present_assets = [values[c] for c in ASSETS if c in values]
    if present_assets:
        total = present_assets[0]
        for other in present_assets[1:]:
            total = pc.add(total, other)
        if plan.derive_aum:
            values["aum_fen"] = total
        elif "aum_fen" in values:
            errors.add(pc.less(values["aum_fen"], total), "aum_fen", "aum_below_assets")
    if "has_credit_card" in values and "credit_card_activated" in values:
        errors.add(pc.and_(values["credit_card_activated"], pc.invert(values["has_credit_card"])),
                   "credit_card_activated", "card_not_held")
    return values, errors


# ---- the load ------------------------------------------------------------------------------------

@dataclass
class _Directory:
    """Orgs and RMs, looked up by code / username / id while rows stream past."""

    org_by_code: dict[str, tuple[int, str]]
    org_path: dict[int, str]
    rm_by_username: dict[str, tuple[int, str, str, bool]]  # id, role, org path, active
    rm_by_id: dict[int, tuple[int, str, str, bool]]

    @classmethod
    def load(cls, session: Session) -> _Directory:
        orgs = session.execute(select(Org.id, Org.code, Org.path)).all()
        users = session.execute(
            select(User.id, User.username, User.role, Org.path, User.is_active)
            .join(Org, Org.id == User.org_id)
        ).all()
        return cls(
            {code: (id_, path) for id_, code, path in orgs}, {id_: path for id_, _, path in orgs},
            {u.username: (u.id, u.role, u.path, u.is_active) for u in users},
            {u.id: (u.id, u.role, u.path, u.is_active) for u in users},
        )


def _existing(session: Session, numbers: list[str]) -> dict[str, tuple[str, str | None, datetime]]:
    """customer_no → (org path, the current RM's org path, updated_at) for numbers already stored."""
    rm_org = aliased(Org)
    rows = session.execute(
        select(Customer.customer_no, Org.path, rm_org.path, Customer.updated_at)
        .join(Org, Org.id == Customer.org_id)
        .outerjoin(User, User.id == Customer.rm_id)
        .outerjoin(rm_org, rm_org.id == User.org_id)
        .where(Customer.customer_no.in_(numbers))
    ).all()
    return {no: (path, rm_path, updated) for no, path, rm_path, updated in rows}


def _write(session: Session, rows: list[tuple[dict, bool]], fields: list[str]) -> None:
    """Insert the new customers, update the known ones in ``fields`` only.

    Two statements rather than one upsert: an upsert's insert half must satisfy NOT NULL even when it
    ends as an update, which a file carrying only balances cannot.
    """
    table = Customer.__table__
    new = [row for row, is_new in rows if is_new]
    known = [{**{k: v for k, v in row.items() if k != "customer_no"}, "key": row["customer_no"]}
             for row, is_new in rows if not is_new]
    if new:
        if session.get_bind().dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = insert(table)
        # A customer inserted by a concurrent load since we looked becomes an update, not a failed load.
        stmt = stmt.on_conflict_do_update(index_elements=["customer_no"], set_={
            f: stmt.excluded[f] for f in [*fields, "updated_at"] if f != "customer_no"})
        session.execute(stmt, new)
    if known:
        session.execute(update(table).where(table.c.customer_no == bindparam("key")), known)


def load_customers(
    *,
    session: Session,
    path: Path,
    file_name: str | None = None,
    skip_invalid: bool = False,
    scope: Org | None = None,
    actor: Actor = SYSTEM,
    today: date | None = None,
    chunk_rows: int = CHUNK_ROWS,
    progress: Progress | None = None,
) -> LoadReport:
    """Validate and upsert the customers in ``path``; commits the load or, on errors, rolls it back.

    ``scope`` confines the load to an org subtree (a user's org). Returns the report either way; a caller
    that must fail on errors checks ``report.loaded``.
    """
    started = time.monotonic()
    file_name = file_name or path.name
    fmt = detect_format(file_name)
    today = today or datetime.now(UTC).date()
    report = LoadReport(file_name=file_name, file_format=fmt)
    source = _open(path, fmt, chunk_rows)
    plan = _plan(source.columns)
    report.ignored_columns = plan.ignored
    errors: list[RowError] = list(plan.header_errors)
    error_count = len(errors)
    writing = not plan.header_errors

    def note(found: list[RowError]) -> None:
        nonlocal error_count, writing
        if found:
            error_count += len(found)
            errors.extend(found[: max(0, MAX_ERRORS - len(errors))])
            writing = writing and skip_invalid

    if not plan.header_errors:
        directory = _Directory.load(session)
        # Rows written by this load carry this exact updated_at: a number met again in a later chunk is
        # recognised as a repeat without keeping every number of a ten-million-row file in memory. (Once a
        # failing load stops writing, later repeats go unreported; the load fails anyway.)
        load_at = utcnow()
        try:
            for table, numbers in source.chunks:
                values, chunk_errors = _parse_chunk(table, plan, today)
                rows = _check_rows(session, values, chunk_errors, plan, directory, scope, load_at, numbers)
                bad = chunk_errors.bad_rows()
                note(chunk_errors.rows(numbers))
                malformed = source.drain_malformed()
                note(malformed)
                report.rows_read += table.num_rows + len(malformed)
                if writing:
                    keep = [(row, new) for (row, new), b in zip(rows, bad, strict=True) if not b]
                    _write(session, keep, plan.fields)
                    report.inserted += sum(new for _, new in keep)
                    report.updated += sum(not new for _, new in keep)
                    report.skipped += int(bad.sum()) + len(malformed)
                if progress:
                    progress(report.rows_read, source.total)
            malformed = source.drain_malformed()
            note(malformed)
            report.rows_read += len(malformed)
            report.skipped += len(malformed) if writing else 0
        except (pa.ArrowException, UnicodeDecodeError) as exc:
            session.rollback()
            raise ImportFileUnreadable(details={"reason": str(exc)[:300]}) from exc

    report.error_count = error_count
    errors.sort(key=lambda e: (e.row, _ORDER.get(e.column or "", -1)))
    report.errors = errors[:MAX_ERRORS]
    report.errors_truncated = error_count > MAX_ERRORS
    report.loaded = writing
    if not writing:
        session.rollback()
        report.inserted = report.updated = report.skipped = 0
    report.seconds = round(time.monotonic() - started, 3)
    audit.record(session, actor=actor, action="customers.load", entity_type="customer", after={
        "file_name": file_name, "format": fmt, "loaded": report.loaded, "rows_read": report.rows_read,
        "inserted": report.inserted, "updated": report.updated, "skipped": report.skipped,
        "errors": report.error_count, "scope_org_id": scope.id if scope else None,
    })
    session.commit()
    return report


def _check_rows(
    session: Session, values: dict[str, pa.Array], errors: _Errors, plan: _Plan, directory: _Directory,
    scope: Org | None, load_at: datetime, row_numbers: np.ndarray,
) -> list[tuple[dict, bool]]:
    """Checks that need the database, row by row; returns each row's values and whether it is new."""
    columns = {name: arr.to_pylist() for name, arr in values.items()
               if name not in ("org_code", "rm_username")}
    org_keys = values[plan.org_by].to_pylist() if plan.org_by else None
    rm_keys = values[plan.rm_by].to_pylist() if plan.rm_by else None
    numbers = columns["customer_no"]
    existing = _existing(session, [no for no in set(numbers) if no is not None])
    first_seen: dict[str, int] = {}
    field_names = [f for f in plan.fields if f not in ("org_id", "rm_id")]
    out: list[tuple[dict, bool]] = []
    for i, number in enumerate(numbers):
        row = {f: columns[f][i] for f in field_names}
        row["updated_at"] = load_at
        known = existing.get(number) if number is not None else None
        if number is not None:
            if number in first_seen:
                errors.add_row(i, "customer_no", "duplicate_in_file", int(row_numbers[first_seen[number]]))
            elif known is not None and known[2] == load_at:
                errors.add_row(i, "customer_no", "duplicate")
            first_seen.setdefault(number, i)
            if known is not None and scope is not None and not known[0].startswith(scope.path):
                errors.add_row(i, "customer_no", "customer_out_of_scope")
        org_path = known[0] if known else None
        if plan.org_by and org_keys[i] is not None:
            if plan.org_by == "org_code":
                org = directory.org_by_code.get(org_keys[i])
            else:
                path = directory.org_path.get(org_keys[i])
                org = (org_keys[i], path) if path is not None else None
            if org is None:
                errors.add_row(i, plan.org_by, "unknown_org")
            elif scope is not None and not org[1].startswith(scope.path):
                errors.add_row(i, plan.org_by, "org_out_of_scope")
            else:
                row["org_id"], org_path = org
                if plan.rm_by is None and known and known[1] and not known[1].startswith(org_path):
                    errors.add_row(i, plan.org_by, "rm_left_behind")
        if known is None and number is not None:
            if plan.org_by is None:
                errors.add_row(i, "org_code", "new_needs_org")
            if "name" not in plan.columns:
                errors.add_row(i, "name", "new_needs_name")
        if plan.rm_by:
            row["rm_id"] = None
            key = rm_keys[i]
            if key is not None:
                users = directory.rm_by_username if plan.rm_by == "rm_username" else directory.rm_by_id
                rm = users.get(key)
                if rm is None or not rm[3]:
                    errors.add_row(i, plan.rm_by, "unknown_rm")
                elif rm[1] != Role.rm.value:
                    errors.add_row(i, plan.rm_by, "not_rm")
                elif org_path is not None and not rm[2].startswith(org_path):
                    errors.add_row(i, plan.rm_by, "rm_not_in_org")
                else:
                    row["rm_id"] = rm[0]
        out.append((row, known is None))
    return out


