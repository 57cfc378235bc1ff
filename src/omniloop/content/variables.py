"""The variables a message template may use (模板变量), and how they are filled from the customer profile.

Templates see plain dicts built here, never ORM objects, so the sandbox has nothing to walk into. Personal
data is masked unless the caller may see it (``reveal_pii``): a marketing text normally needs only the
surname and honorific (张先生), never the full name or phone number.

| variable | example | from |
|---|---|---|
| ``customer.name_masked`` | 张*丰 | name, masked |
| ``customer.name`` | 张三丰 (张*丰 unless reveal_pii) | name |
| ``customer.surname`` | 张 / 欧阳 | name (compound surnames recognised) |
| ``customer.honorific`` | 先生 / 女士 (客户 when gender unknown) | gender |
| ``customer.salutation`` | 张先生 | surname + honorific |
| ``customer.phone_masked`` | 138****5678 | phone |
| ``customer.phone_last4`` | 5678 | phone |
| ``customer.customer_no`` | C000000123 | customer number |
| ``customer.branch`` | 西湖支行 | the customer's org |
| ``customer.lifecycle_stage`` | 成长期 | lifecycle stage label |
| ``customer.rm_name`` | 王经理's display name | assigned RM |
| ``benefit.name`` / ``benefit.amount`` / ``benefit.points`` / ``benefit.valid_to`` / ``benefit.valid_to_zh`` | 50元理财体验券 / 50 / 2000 / 2026-12-31 / 2026年12月31日 | the granted benefit (amount in yuan, exact from fen; dates in Asia/Shanghai) |
| ``campaign.name`` / ``campaign.code`` | 新客开户礼 / MKT-2026-00042 | the campaign |
| ``unsubscribe`` | 拒收请回复R | the SMS opt-out text |
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from omniloop.org.masking import mask_name, mask_phone
from omniloop.org.models import Org, User

UNSUBSCRIBE_TEXT = "拒收请回复R"
TIMEZONE = ZoneInfo("Asia/Shanghai")

STAGE_LABELS = {"acquire": "获客期", "activate": "激活期", "grow": "成长期", "retain": "留存期", "refer": "推荐期"}

# 复姓: the common compound surnames, so that 欧阳娜娜 is 欧阳女士, not 欧女士.
COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 诸葛 上官 东方 皇甫 令狐 慕容 长孙 宇文 司徒 夏侯 尉迟 公孙 轩辕 端木 独孤 南宫 西门 "
    "万俟 闻人 呼延 澹台 钟离 濮阳 申屠 太史 公冶 赫连 百里 东郭 仲孙 叔孙 左丘 亓官 司空 鲜于 第五".split()
)


@dataclass(frozen=True)
class Variable:
    name: str
    label_zh: str
    label_en: str
    sample: str  # a typical value (previews without customers)
    longest: str  # the longest value we expect, for length checks on a rendered sample


VARIABLES: tuple[Variable, ...] = (
    Variable("customer.name_masked", "客户姓名（脱敏）", "Customer name (masked)", "张*丰", "欧阳**娜"),
    Variable("customer.name", "客户姓名", "Customer name", "张*丰", "欧阳**娜"),
    Variable("customer.surname", "姓氏", "Surname", "张", "欧阳"),
    Variable("customer.honorific", "称谓", "Honorific", "先生", "女士"),
    Variable("customer.salutation", "尊称", "Salutation", "张先生", "欧阳女士"),
    Variable("customer.phone_masked", "手机号（脱敏）", "Phone (masked)", "138****5678", "138****5678"),
    Variable("customer.phone_last4", "手机尾号", "Phone last 4 digits", "5678", "5678"),
    Variable("customer.customer_no", "客户号", "Customer number", "C000000123", "C00000000000"),
    Variable("customer.branch", "所属网点", "Branch", "西湖支行", "杭州分行营业部西湖区文三路支行"),
    Variable("customer.lifecycle_stage", "生命周期阶段", "Lifecycle stage", "成长期", "成长期"),
    Variable("customer.rm_name", "客户经理", "Relationship manager", "王芳", "欧阳晓明"),
    Variable("benefit.name", "权益名称", "Benefit name", "50元理财体验券", "基金申购费率1折优惠券（限新客）"),
    Variable("benefit.amount", "权益金额（元）", "Benefit amount (yuan)", "50", "1000.00"),
    Variable("benefit.points", "积分", "Points", "2000", "100000"),
    Variable("benefit.valid_to", "有效期至", "Valid until", "2026-12-31", "2026-12-31"),
    Variable("benefit.valid_to_zh", "有效期至（中文）", "Valid until (Chinese)", "2026年12月31日", "2026年12月31日"),
    Variable("campaign.name", "活动名称", "Campaign name", "新客开户礼", "新客黄金百日财富成长计划"),
    Variable("campaign.code", "活动编号", "Campaign code", "MKT-2026-00042", "MKT-2026-00042"),
    Variable("unsubscribe", "退订提示", "Opt-out text", UNSUBSCRIBE_TEXT, UNSUBSCRIBE_TEXT),
)
VARIABLE_NAMES = frozenset(v.name for v in VARIABLES)
ROOTS = frozenset(v.name.split(".")[0] for v in VARIABLES)


def surname(name: str | None) -> str:
    if not name:
        return ""
    return name[:2] if name[:2] in COMPOUND_SURNAMES and len(name) > 2 else name[:1]


def honorific(gender: str | None) -> str:
    return {"M": "先生", "F": "女士"}.get((gender or "").upper(), "客户")


def yuan(fen: int | None) -> str:
    """Fen as yuan, exact: 5000 → "50", 5050 → "50.50"."""
    fen = fen or 0
    if fen % 100 == 0:
        return str(fen // 100)
    return str((Decimal(fen) / 100).quantize(Decimal("0.01")))


def local_date(value: datetime | None) -> tuple[str, str]:
    if value is None:
        return "长期有效", "长期有效"
    d = value.astimezone(TIMEZONE).date()
    return d.isoformat(), f"{d.year}年{d.month}月{d.day}日"


def customer_context(customer, *, branch: str | None = None, rm_name: str | None = None,
                     reveal_pii: bool = False) -> dict:
    digits = "".join(ch for ch in (customer.phone or "") if ch.isdigit())
    sn, hon = surname(customer.name), honorific(customer.gender)
    return {
        "name_masked": mask_name(customer.name) or "",
        "name": (customer.name if reveal_pii else mask_name(customer.name)) or "",
        "surname": sn,
        "honorific": hon,
        "salutation": f"{sn}{hon}" if sn else "尊敬的客户",
        "phone_masked": mask_phone(customer.phone) or "",
        "phone_last4": digits[-4:],
        "customer_no": customer.customer_no,
        "branch": branch or "",
        "lifecycle_stage": STAGE_LABELS.get(customer.lifecycle_stage or "", ""),
        "rm_name": rm_name or "",
    }


def benefit_context(benefit) -> dict | None:
    if benefit is None:
        return None
    valid_to, valid_to_zh = local_date(benefit.valid_to)
    return {"name": benefit.name, "amount": yuan(benefit.face_value_fen), "points": str(benefit.points or 0),
            "valid_to": valid_to, "valid_to_zh": valid_to_zh}


def campaign_context(campaign) -> dict | None:
    if campaign is None:
        return None
    return {"name": campaign.name, "code": campaign.code}


def contexts(session: Session, customers: Sequence, *, benefit=None, campaign=None,
             reveal_pii: bool = False) -> list[dict]:
    """One template context per customer; branches and RMs loaded in two queries for the whole batch."""
    org_ids = {c.org_id for c in customers}
    rm_ids = {c.rm_id for c in customers if c.rm_id}
    orgs = dict(session.execute(select(Org.id, Org.name).where(Org.id.in_(org_ids))).all()) if org_ids else {}
    rms = dict(session.execute(select(User.id, User.display_name).where(User.id.in_(rm_ids))).all()) if rm_ids else {}
    shared = {"benefit": benefit_context(benefit), "campaign": campaign_context(campaign),
              "unsubscribe": UNSUBSCRIBE_TEXT}
    shared = {k: v for k, v in shared.items() if v is not None}
    return [{"customer": customer_context(c, branch=orgs.get(c.org_id), rm_name=rms.get(c.rm_id),
                                          reveal_pii=reveal_pii), **shared} for c in customers]


def _nested(values: dict[str, str]) -> dict:
    out: dict = {}
    for name, value in values.items():
        root, _, leaf = name.partition(".")
        if leaf:
            out.setdefault(root, {})[leaf] = value
        else:
            out[root] = value
    return out


def sample_context(*, longest: bool = False) -> dict:
    """A context with every variable: typical values, or the longest ones for length checks."""
    return _nested({v.name: (v.longest if longest else v.sample) for v in VARIABLES})
