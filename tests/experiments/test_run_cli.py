"""``aimarket run`` end to end: tables, manifest, plots, summary, and clean errors."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from experiments.cli import main
from experiments.scenarios import load_scenario, scenario_hash

BASELINE = Path(__file__).parents[2] / "experiments" / "scenarios" / "baseline.toml"


def test_run_writes_tables_manifest_and_plots(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(BASELINE), "--ticks", "3", "--seed", "5", "--out", str(out),
                 "--quiet"]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "price accelerator" in text and "unmet share" in text
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 5 and manifest["ticks"] == 3
    assert manifest["scenario_hash"] == scenario_hash(load_scenario(BASELINE))
    assert manifest["solver_options"]["threads"] == 1
    for name in ("ticks", "prices", "agents", "flows", "contracts", "concentration",
                 "coverage", "exposure"):  # fmt: skip
        table = pq.read_table(out / f"{name}.parquet")
        assert table.num_rows > 0, name
        assert sorted(set(table.column("tick").to_pylist())) == [0, 1, 2], name
    for png in ("prices", "demand", "lockin", "capacity"):
        assert (out / f"{png}.png").stat().st_size > 10_000
    assert not list(out.glob(".*.tmp"))  # nothing half-written left behind


def test_run_with_a_bad_scenario_names_file_and_field(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(BASELINE.read_text().replace("[meta]", "[meta]\nhorizonn = 3", 1))
    assert main(["run", str(bad), "--quiet", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "bad.toml" in err and "horizonn" in err
    assert "Traceback" not in err


def test_run_rejects_ticks_beyond_the_horizon(tmp_path, capsys):
    assert main(["run", str(BASELINE), "--ticks", "999", "--out", str(tmp_path)]) == 2
    assert "--ticks" in capsys.readouterr().err
