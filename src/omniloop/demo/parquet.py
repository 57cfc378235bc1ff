"""Benchmark-sized customer files (基准测试数据): the demo bank's customers streamed to Parquet.

Two datasets: ``customers.parquet`` (the loader's columns, loadable with ``omniloop load customers`` into
a database seeded with the same demo bank) and ``customer_monthly.parquet`` (customer_no, month, month-end
AUM, app logins). Memory stays bounded by the chunk: each chunk is generated, handed to a writer thread
and dropped, so generation (numpy) and compression (Arrow, outside the GIL) use both cores.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from omniloop.core.clock import Clock
from omniloop.demo.generator import CustomerChunk, default_as_of, iter_chunks
from omniloop.demo.layout import build_layout

CUSTOMERS_FILE = "customers.parquet"
MONTHLY_FILE = "customer_monthly.parquet"
# Low-cardinality text columns compress well as dictionaries; names, numbers and IDs do not.
_DICTIONARY_COLUMNS = ["org_code", "rm_username", "gender", "risk_level", "segment"]


@dataclass(frozen=True)
class ParquetSummary:
    customers_path: Path
    monthly_path: Path
    customers: int
    monthly_rows: int
    seconds: float


def _monthly_table(chunk: CustomerChunk) -> pa.Table:
    numbers = chunk.customers["customer_no"].take(chunk.monthly["customer_pos"])
    return pa.table({
        "customer_no": numbers,
        "month": chunk.monthly["month"],
        "aum_fen": chunk.monthly["aum_fen"],
        "app_logins": chunk.monthly["app_logins"],
    })


def generate_parquet(
    out_dir: Path,
    *,
    customers: int = 10_000_000,
    seed: int = 42,
    chunk: int = 500_000,
    as_of: date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ParquetSummary:
    """Write ``customers`` generated customers and their twelve months to ``out_dir``.

    ``as_of`` is the latest month of the history; by default the last complete month in the bank's timezone.
    """
    started = time.monotonic()
    as_of = as_of or default_as_of(Clock().today())
    out_dir.mkdir(parents=True, exist_ok=True)
    layout = build_layout(seed)
    customers_path, monthly_path = out_dir / CUSTOMERS_FILE, out_dir / MONTHLY_FILE
    # One chunk in flight while the next is generated: bounded memory, both cores busy.
    handoff: queue.Queue[CustomerChunk | None] = queue.Queue(maxsize=1)
    failure: list[BaseException] = []
    written = {"customers": 0, "monthly": 0}

    def write() -> None:
        customer_writer = monthly_writer = None
        try:
            while (item := handoff.get()) is not None:
                monthly = _monthly_table(item)
                if customer_writer is None:
                    customer_writer = pq.ParquetWriter(
                        customers_path, item.customers.schema, compression="snappy",
                        use_dictionary=_DICTIONARY_COLUMNS,
                    )
                    monthly_writer = pq.ParquetWriter(monthly_path, monthly.schema, compression="snappy",
                                                      use_dictionary=False)
                customer_writer.write_table(item.customers, row_group_size=len(item))
                monthly_writer.write_table(monthly, row_group_size=monthly.num_rows)
                written["customers"] += len(item)
                written["monthly"] += monthly.num_rows
                if progress:
                    progress(written["customers"], customers)
        except BaseException as exc:
            failure.append(exc)
            while handoff.get() is not None:  # drain so the producer never blocks on a dead writer
                pass
        finally:
            for writer in (customer_writer, monthly_writer):
                if writer is not None:
                    writer.close()

    writer_thread = threading.Thread(target=write, name="parquet-writer", daemon=True)
    writer_thread.start()
    try:
        for part in iter_chunks(layout, seed=seed, customers=customers, chunk=chunk, as_of=as_of):
            if failure:
                break
            handoff.put(part)
    finally:
        handoff.put(None)
        writer_thread.join()
    if failure:
        raise failure[0]
    return ParquetSummary(customers_path, monthly_path, written["customers"], written["monthly"],
                          round(time.monotonic() - started, 2))
