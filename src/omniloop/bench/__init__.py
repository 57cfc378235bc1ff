"""Benchmarks (基准测试), run as ``omniloop bench NAME --json FILE``.

Each benchmark runs a reference engine in the same run and writes ``{"name", "params", "results",
"reference", "ratio"}``, where ``ratio`` is the reference's median latency over ours.

* ``audience`` (``omniloop.bench.audience``): live audience estimates on the bitmap index against the same
  SQL on DuckDB (the reference) and PostgreSQL.
"""
