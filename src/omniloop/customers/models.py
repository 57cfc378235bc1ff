"""Customer master data (客户主数据) and its monthly history."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from omniloop.core.db import Base, BigIntPK, UTCDateTime, utcnow


class Customer(Base):
    """One retail/corporate customer. Money is integer fen (分)."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    customer_no: Mapped[str] = mapped_column(String(32), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    rm_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    gender: Mapped[str | None] = mapped_column(String(1))  # M / F
    birth_date: Mapped[date | None] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(32))
    id_number: Mapped[str | None] = mapped_column(String(32))
    risk_level: Mapped[str | None] = mapped_column(String(2))  # KYC R1..R5
    segment: Mapped[str] = mapped_column(String(20), default="retail")  # retail/private/corporate/small_business
    deposit_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    wealth_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    fund_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    insurance_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    loan_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    has_credit_card: Mapped[bool] = mapped_column(Boolean, default=False)
    credit_card_activated: Mapped[bool] = mapped_column(Boolean, default=False)
    aum_fen: Mapped[int] = mapped_column(BigInteger, default=0, index=True)
    app_logins_month: Mapped[int] = mapped_column(Integer, default=0)
    first_account_date: Mapped[date | None] = mapped_column(Date)
    payroll_flag: Mapped[bool] = mapped_column(Boolean, default=False)
    lifecycle_stage: Mapped[str | None] = mapped_column(String(20), index=True)
    lifecycle_status: Mapped[str | None] = mapped_column(String(20))  # written by the lifecycle tag run
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Indexed: the incremental feature refresh reads the customers changed since the last version.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, index=True)


class CustomerMonthly(Base):
    """Month-end AUM and that month's app logins (MAU activity), one row a customer a month."""

    __tablename__ = "customer_monthly"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)  # first day of the month
    aum_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    app_logins: Mapped[int] = mapped_column(Integer, default=0)


class CustomerList(Base):
    """An uploaded customer list (上传名单): the cids of the customers on it, as a serialized roaring bitmap.

    Visible in the subtree of ``org_id``. ``unknown_count`` numbers the rows of the upload that named no
    known customer (their numbers are in the upload report, not here). Its members are immutable once
    stored; a new upload is a new list. An archived list (``archived_at`` set, 归档) is left out of the
    pickers but keeps serving the audiences and tags that use it; a list in use cannot be deleted.
    """

    __tablename__ = "customer_lists"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(500))
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    source_filename: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer, default=0)
    unknown_count: Mapped[int] = mapped_column(Integer, default=0)
    members: Mapped[bytes] = mapped_column(LargeBinary)  # pyroaring BitMap.serialize() of cids
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CustomerHolding(Base):
    """A product the customer holds (持仓): a wealth product, time deposit, fund or insurance policy.
    ``maturity_date`` drives the "N days before maturity" key-date trigger (到期提醒)."""

    __tablename__ = "customer_holdings"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    product_code: Mapped[str] = mapped_column(String(32))
    product_name: Mapped[str] = mapped_column(String(100))
    product_type: Mapped[str] = mapped_column(String(16))  # wealth / deposit / fund / insurance
    amount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    start_date: Mapped[date] = mapped_column(Date)
    maturity_date: Mapped[date | None] = mapped_column(Date, index=True)
