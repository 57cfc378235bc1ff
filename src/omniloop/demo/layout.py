"""The demo bank's shape (机构与人员布局): head office, branches, sub-branches, RMs and demo logins.

A pure function of the seed, so the operational database seeded by ``seed_demo`` and the Parquet files
written by ``generate_parquet`` name the same org codes and RM usernames, and a Parquet file can be
loaded into a seeded demo database.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from omniloop.demo import names, reference
from omniloop.org.roles import Role

DEMO_PASSWORD = "demo1234"
RM_TOTAL = 300
_LAYOUT_STREAM = 1  # the layout draws from its own random stream, apart from the customer blocks


@dataclass(frozen=True)
class OrgSpec:
    code: str
    name: str
    name_en: str
    level: str  # head_office / branch / sub_branch
    parent_code: str | None
    city_index: int = -1  # index into reference.BRANCHES (branches and sub-branches)
    division: str | None = None  # administrative division code of a sub-branch's district


@dataclass(frozen=True)
class RmSpec:
    username: str
    display_name: str
    sub_index: int  # index into BankLayout.sub_branches


@dataclass(frozen=True)
class DemoLogin:
    """A demo account for one role; all share the password ``demo1234``."""

    username: str
    role: Role
    org_code: str
    display_name: str


@dataclass(frozen=True)
class BankLayout:
    head: OrgSpec
    branches: list[OrgSpec]
    sub_branches: list[OrgSpec]
    sub_weights: np.ndarray  # share of customers in each sub-branch, sums to 1
    rms: list[RmSpec]
    rm_offset: np.ndarray  # RMs of sub-branch s are rms[rm_offset[s] : rm_offset[s] + rm_count[s]]
    rm_count: np.ndarray
    logins: list[DemoLogin]

    @property
    def orgs(self) -> list[OrgSpec]:
        return [self.head, *self.branches, *self.sub_branches]


def build_layout(seed: int = 42) -> BankLayout:
    rng = np.random.default_rng([seed, _LAYOUT_STREAM])
    head = OrgSpec(reference.HEAD_OFFICE_CODE, f"{reference.BANK_NAME}总行",
                   f"{reference.BANK_NAME_EN} Head Office", "head_office", None)
    branches, subs, weights = [], [], []
    for b, (city, city_en, city_weight, districts) in enumerate(reference.BRANCHES, start=1):
        branch_code = f"ZJ{b:02d}00"
        branches.append(OrgSpec(branch_code, f"{city}分行", f"{city_en} Branch", "branch", head.code, b - 1))
        # Sub-branches differ in size: a downtown one has several times the customers of a county one.
        sizes = rng.lognormal(0.0, 0.45, len(districts))
        for s, (district, district_en, division) in enumerate(districts, start=1):
            subs.append(OrgSpec(f"ZJ{b:02d}{s:02d}", f"{district}支行", f"{district_en} Sub-branch",
                                "sub_branch", branch_code, b - 1, division))
        weights.extend(city_weight * sizes / sizes.sum())
    sub_weights = np.array(weights) / np.sum(weights)

    rm_count = np.maximum(2, np.round(sub_weights * RM_TOTAL)).astype(np.int64)
    rm_offset = np.concatenate([[0], np.cumsum(rm_count)[:-1]])
    sub_of_rm = np.repeat(np.arange(len(subs)), rm_count)
    female = rng.random(len(sub_of_rm)) < 0.55
    display = names.person_names(rng, female=female, birth_year=rng.integers(1972, 2001, len(sub_of_rm)))
    # The first RM of the first sub-branch is the demo login ``rm``; the others are rm0001, rm0002, ...
    rms = [RmSpec("rm" if i == 0 else f"rm{i:04d}", display[i].as_py(), int(sub_of_rm[i]))
           for i in range(len(sub_of_rm))]

    logins = [
        DemoLogin("admin", Role.admin, head.code, "平台管理员"),
        DemoLogin("operator", Role.operator, head.code, "总行营销运营"),
        DemoLogin("manager", Role.branch_manager, branches[0].code, f"{branches[0].name}管理者"),
        DemoLogin("rm", Role.rm, subs[0].code, rms[0].display_name),
        DemoLogin("approver", Role.approver, head.code, "总行会签人"),
        DemoLogin("analyst", Role.analyst, head.code, "数据分析师"),
    ]
    return BankLayout(head, branches, subs, sub_weights, rms, rm_offset, rm_count, logins)
