"""The demo bank (演示银行): a seeded, realistic Zhejiang city commercial bank for demos and benchmarks.

``seed_demo`` fills the operational database (``omniloop demo``); ``generate_parquet`` streams
benchmark-sized customer files (``omniloop demo generate``). Both draw from one vectorised generator, so
the same seed gives the same customers everywhere. Demo logins, all with password ``demo1234``:
``admin``, ``operator`` (head office), ``manager`` (杭州分行), ``rm`` (西湖支行, with assigned customers),
``approver`` and ``analyst``.
"""

from omniloop.demo.layout import DEMO_PASSWORD
from omniloop.demo.parquet import generate_parquet
from omniloop.demo.seed import seed_demo

__all__ = ["DEMO_PASSWORD", "generate_parquet", "seed_demo"]
