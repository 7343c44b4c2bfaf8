"""Seeds are the unit of a result: ``aimarket run`` over several seeds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from experiments.cli import main, run_workers
from experiments.outputs.report import build_report
from experiments.outputs.tables import bands, headline, summary
from experiments.scenarios import load_scenario
from experiments.studies.run import run_scenario, run_seeds

BASELINE = Path(__file__).parents[2] / "experiments" / "scenarios" / "baseline.toml"


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(BASELINE)


def _frame(tables: dict, name: str) -> pd.DataFrame:
    return pd.DataFrame(tables[name]).reset_index(drop=True)


def test_run_over_seeds_keeps_a_seed_column_and_prints_medians_with_bands(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(BASELINE), "--seeds", "3", "--ticks", "3", "--out", str(out),
                 "--quiet"]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "median [p10, p90] over 3 seeds" in text and "seeds 0..2" in text
    for name in ("ticks", "prices", "agents", "flows", "capacity"):
        table = pq.read_table(out / f"{name}.parquet").to_pandas()
        assert sorted(table["seed"].unique()) == [0, 1, 2], name
        for _, block in table.groupby("seed"):  # every seed has every tick
            assert sorted(set(block["tick"])) == [0, 1, 2], name
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seeds"] == [0, 1, 2] and manifest["ticks"] == 3
    # the report rebuilds from the folder alone
    (out / "report.html").unlink()
    assert "over 3 seeds" in build_report(out).read_text()


def test_each_seed_of_a_multi_seed_run_equals_its_single_seed_run(scenario):
    many = run_seeds(scenario, [0, 4], ticks=2, progress=False)
    one = run_scenario(scenario, seed=4, ticks=2, progress=False)
    for name in ("prices", "agents", "flows"):
        got = _frame(many.tables, name)
        got = got[got["seed"] == 4].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, _frame(one.tables, name))


def test_seeds_give_the_same_tables_on_one_or_two_workers(scenario):
    inline = run_seeds(scenario, [0, 1, 2], ticks=2, workers=0, progress=False)
    for workers in (1, 2):
        pooled = run_seeds(scenario, [0, 1, 2], ticks=2, workers=workers, progress=False)
        for name in inline.tables:
            pd.testing.assert_frame_equal(_frame(pooled.tables, name),
                                          _frame(inline.tables, name), obj=name)  # fmt: skip


def test_summary_band_is_the_percentiles_over_seeds(scenario):
    tables = run_seeds(scenario, [0, 1, 2, 3], ticks=3, progress=False).tables
    series = headline(tables)
    label = "lab demand (H100e-quarters)"
    agents = _frame(tables, "agents")
    demand = agents[(agents["type"] == "Lab") & (agents["tick"] == 2)].groupby("seed")["demand"]
    per_seed = demand.sum().to_numpy()
    b = bands(series[series["series"] == label])
    row = b[b["tick"] == 2].iloc[0]
    assert row["median"] == pytest.approx(np.median(per_seed))
    assert row["p10"] == pytest.approx(np.percentile(per_seed, 10))
    assert row["p90"] == pytest.approx(np.percentile(per_seed, 90))
    assert row["p10"] < row["p90"]  # the seeds do differ by tick 2
    assert "[" in summary(tables)


def test_a_single_seed_run_shows_plain_values(tmp_path, capsys):
    out = tmp_path / "one"
    assert main(["run", str(BASELINE), "--seed", "7", "--ticks", "2", "--out", str(out),
                 "--quiet"]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "seed 7" in text and "median [p10, p90]" not in text
    assert set(pq.read_table(out / "ticks.parquet").column("seed").to_pylist()) == {7}


def test_small_runs_stay_in_process_and_large_ones_use_the_pool():
    assert run_workers(None, 1, 40, cores=8) == 0  # one seed
    assert run_workers(None, 8, 3, cores=8) == 0  # too small to repay the pool
    assert run_workers(None, 64, 40, cores=1) == 0  # one core
    assert run_workers(None, 64, 40, cores=8) == 8
    assert run_workers(None, 3, 400, cores=8) == 3  # no more workers than seeds
    assert run_workers(3, 8, 2, cores=8) == 3  # as asked


def test_seed_and_seeds_together_are_refused(capsys):
    with pytest.raises(SystemExit):
        main(["run", str(BASELINE), "--seed", "1", "--seeds", "2"])
    assert "not allowed with" in capsys.readouterr().err
