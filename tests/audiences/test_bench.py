"""The audience benchmark on a small demo bank: its JSON, the engines' agreement, and its failure mode."""

from __future__ import annotations

import json

import pytest

from omniloop.bench import audience


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("bench-audience")


def test_small_run_writes_the_result_and_the_engines_agree(data_dir, monkeypatch):
    monkeypatch.delenv(audience.BENCH_DB_ENV, raising=False)
    out = data_dir / "result.json"
    result = audience.run(20_000, json_path=out, repetitions=2, warmup=1, cache_dir=data_dir, log=lambda _: None)
    assert json.loads(out.read_text(encoding="utf-8")) == result
    assert result["name"] == "audience" and result["reference"] == "duckdb"
    assert set(result) >= {"name", "params", "results", "reference", "ratio"}
    assert result["params"]["customers"] == 20_000 and result["params"]["expressions"] >= 10
    assert result["results"]["postgres"] == {"skipped": f"{audience.BENCH_DB_ENV} is not set"}
    bitmap, duckdb = result["results"]["bitmap"], result["results"]["duckdb"]
    for numbers in (bitmap, duckdb):
        assert 0 < numbers["p50_ms"] <= numbers["p95_ms"] and numbers["memory_mb"] > 0 and numbers["build_s"] > 0
    assert result["ratio"] == round(duckdb["p50_ms"] / bitmap["p50_ms"], 2)
    assert {n: e["total"] for n, e in bitmap["expressions"].items()} == {
        n: e["total"] for n, e in duckdb["expressions"].items()}
    assert any(e["total"] > 0 for e in bitmap["expressions"].values())


def test_every_expression_has_three_to_eight_conditions_and_most_an_aum_range():
    from omniloop.audiences.expression import PREDICATE_OPS, parse_expression, walk

    with_aum = 0
    for data in audience.EXPRESSIONS.values():
        leaves = [n for _, _, n in walk(parse_expression(data)) if n.op in PREDICATE_OPS]
        assert 3 <= len(leaves) <= 8
        with_aum += any(n.op == "range" and n.feature == "aum" for n in leaves)
    assert len(audience.EXPRESSIONS) >= 10 and with_aum >= len(audience.EXPRESSIONS) - 2


def test_a_disagreement_fails_the_run(data_dir, monkeypatch):
    original = audience.BitmapEngine.answer

    def off_by_one(self, node):
        total, breakdown = original(self, node)
        return total + 1, breakdown

    monkeypatch.setattr(audience.BitmapEngine, "answer", off_by_one)
    with pytest.raises(RuntimeError, match="disagrees with duckdb"):
        audience.run(20_000, engines=("bitmap", "duckdb"), repetitions=1, warmup=1, cache_dir=data_dir,
                     log=lambda _: None)


def test_engines_are_checked(data_dir):
    with pytest.raises(ValueError, match="unknown engines"):
        audience.run(20_000, engines=("bitmap", "oracle"), cache_dir=data_dir)
    with pytest.raises(ValueError, match="reference"):
        audience.run(20_000, engines=("bitmap",), cache_dir=data_dir)
    with pytest.raises(ValueError, match="fewer than"):
        audience.prepare_features(10**9, seed=42, data_dir=data_dir, cache_dir=data_dir)


def test_the_cli_runs_the_benchmark(data_dir, monkeypatch):
    from typer.testing import CliRunner

    from omniloop.cli import app

    monkeypatch.delenv(audience.BENCH_DB_ENV, raising=False)
    out = data_dir / "cli.json"
    outcome = CliRunner().invoke(app, ["bench", "audience", "--customers", "20000", "--engines", "bitmap, duckdb",
                                       "--repetitions", "1", "--json", str(out), "--cache-dir", str(data_dir)])
    assert outcome.exit_code == 0, outcome.output
    assert "duckdb p50 / bitmap p50" in outcome.output
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["params"]["engines"] == ["bitmap", "duckdb"] and written["ratio"] > 0
