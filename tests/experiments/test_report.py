"""Plots and HTML reports of runs and studies."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image

from experiments.cli import main
from experiments.engine import execute
from experiments.outputs.report import RUN_SECTIONS, build_report
from experiments.outputs.tables import write_run
from experiments.scenarios import load_scenario
from experiments.studies.plan import SweepPlan
from experiments.studies.run import MarketRunner, run_scenario
from experiments.studies.sweep import tasks_of

SCENARIOS = Path(__file__).parents[2] / "experiments" / "scenarios"


@pytest.fixture(scope="module")
def baseline_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("baseline")
    write_run(run_scenario(load_scenario(SCENARIOS / "baseline.toml"), progress=False), out)
    return out


def _not_blank(path: Path) -> bool:
    with Image.open(path) as im:
        lo, hi = im.convert("L").getextrema()
    return hi - lo > 50  # drawn on, not a blank canvas


def test_every_plot_is_produced_and_non_empty_for_the_baseline(baseline_run):
    report = build_report(baseline_run)
    pngs = {p.name: p for p in baseline_run.glob("*.png")}
    for name in ("prices.png", "demand.png", "lockin.png", "capacity.png", "exposure.png"):
        assert name in pngs and pngs[name].stat().st_size > 20_000, name
        assert _not_blank(pngs[name]), name
    networks = sorted(n for n in pngs if n.startswith("network_t"))
    assert networks == ["network_t000.png", "network_t019.png", "network_t039.png"]
    assert all(_not_blank(pngs[n]) for n in networks)
    text = report.read_text()
    lead = any(
        c.startswith("lead_time") for c in pq.read_schema(baseline_run / "ticks.parquet").names
    )
    sections = [s for s in RUN_SECTIONS if lead or s != "Lead times"]
    assert "field.png" in pngs and _not_blank(pngs["field.png"])
    assert "risk.png" in pngs and _not_blank(pngs["risk.png"])  # who bears the risk (7.18)
    for section in ("Summary", *sections, "Shocks and policies", "Manifest"):
        assert f"<h2>{section}</h2>" in text, section
    images = re.findall(r'src="data:image/png;base64,', text)
    # self-contained: every plot embedded (lead times only when the market quotes them)
    # 7: with the field's KPIs (ODD 7.16) and who bears the risk (ODD 7.18)
    assert len(images) == 7 + lead + len(networks)
    assert "price accelerator" in text and "scenario_hash" in text


def test_report_of_a_shocked_run_names_its_shocks(tmp_path):
    out = tmp_path / "tw"
    assert main(["run", str(SCENARIOS / "taiwan_outage.toml"), "--ticks", "14", "--out",
                 str(out), "--quiet"]) == 0  # fmt: skip
    text = (out / "report.html").read_text()
    assert "outage:TW" in text


def test_study_report_has_distributions_and_forest_plot(tmp_path):
    base = load_scenario(SCENARIOS / "baseline.toml").model_dump(mode="python")
    plan = SweepPlan(name="r", sampler="random", samples=3, seeds=1, ticks=3,
                     parameters=[{"path": "behaviour.foresight", "range": [0.1, 0.5]}])  # fmt: skip
    runner = MarketRunner({"base": base}, ("unmet_share", "price_accelerator"), 3)
    execute(tasks_of(plan), runner, tmp_path / "sweep", progress=False)
    text = build_report(tmp_path / "sweep").read_text()
    assert "<h2>KPI distributions</h2>" in text and "<h2>Runs</h2>" in text
    for section in ("Inputs versus outputs", "Sensitivity of each output"):
        assert f"<h2>{section}</h2>" in text, section
    assert "$/H100e" in text and "spearman" in text
    assert (tmp_path / "sweep" / "kpi_distributions.png").stat().st_size > 10_000
    assert _not_blank(tmp_path / "sweep" / "inputs_outputs.png")

    from experiments.studies.whatif import ShockWindowWarning, whatif

    # the outage (ticks 8-12) runs past the 10 ticks run: its window is cut, with a warning
    with pytest.warns(ShockWindowWarning, match="cut to ticks 8-9"):
        whatif(SCENARIOS / "baseline.toml", [SCENARIOS / "taiwan_outage.toml"], seeds=2,
               ticks=10, out=tmp_path / "wi", progress=False)  # fmt: skip
    text = build_report(tmp_path / "wi").read_text()
    assert "<h2>Policy differences over the run</h2>" in text and "taiwan_outage" in text
    assert "<h2>Policy differences over the shock window</h2>" in text
    assert "<h2>Policy differences after" not in text and "cut to ticks 8-9" in text
    assert _not_blank(tmp_path / "wi" / "whatif_forest.png")
    assert _not_blank(tmp_path / "wi" / "diff_taiwan_outage.png")


def test_report_of_an_empty_folder_is_a_clear_error(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "no results found" in capsys.readouterr().err
