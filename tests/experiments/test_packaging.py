"""The package installs and runs shipped scenarios by name from any folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from experiments.cli import main
from experiments.scenarios import (
    ScenarioError,
    load_scenario,
    resolve_sweep_plan,
    scenario_hash,
    shipped_scenarios,
    shipped_sweeps,
)

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_a_shipped_scenario_loads_by_name_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    by_path = load_scenario(ROOT / "experiments" / "scenarios" / "taiwan_outage.toml")
    monkeypatch.chdir(tmp_path)
    for name in ("taiwan_outage", "taiwan_outage.toml"):
        assert scenario_hash(load_scenario(name)) == scenario_hash(by_path)


def test_a_file_in_the_working_folder_wins_over_a_shipped_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "baseline.toml").write_text('base = "baseline"\n[meta]\nname = "local"\n')
    assert load_scenario("baseline.toml").meta.name == "local"
    assert load_scenario("baseline").meta.name == "baseline"


def test_an_unknown_name_lists_the_shipped_scenarios(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScenarioError) as info:
        load_scenario("basline")
    message = str(info.value)
    assert message.startswith("basline: no such file, and no shipped scenario is called")
    assert "did you mean 'baseline'?" in message
    for name in ("baseline", "taiwan_outage", "export_controls"):
        assert name in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_the_shipped_names_are_the_files_in_the_repository() -> None:
    assert shipped_scenarios() == sorted(
        p.stem for p in (ROOT / "experiments" / "scenarios").glob("*.toml")
    )
    assert shipped_sweeps() == sorted(
        p.stem for p in (ROOT / "experiments" / "sweeps").glob("*.toml")
    )
    assert resolve_sweep_plan("demand_and_hbm").read_text().startswith("#")


def test_scenarios_and_sweep_plans_are_package_data() -> None:
    data = PYPROJECT["tool"]["setuptools"]["package-data"]["experiments"]
    assert set(data) == {"scenarios/*.toml", "sweeps/*.toml"}


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"aimarket {PYPROJECT['project']['version']}"


def test_license_and_citation_match_pyproject() -> None:
    assert PYPROJECT["project"]["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    citation = (ROOT / "CITATION.cff").read_text()
    assert f'version: "{PYPROJECT["project"]["version"]}"' in citation
    assert "license: MIT" in citation


def test_pyomo_is_pinned_to_the_minor_series_installed_here() -> None:
    (pin,) = [Requirement(r) for r in PYPROJECT["project"]["dependencies"] if r.startswith("pyomo")]
    installed = version("pyomo")
    assert pin.specifier.contains(installed)
    major, minor = (int(x) for x in installed.split(".")[:2])
    assert not pin.specifier.contains(f"{major}.{minor + 1}.0")


@pytest.mark.install
def test_pip_install_runs_the_baseline_by_name_outside_the_repository(tmp_path: Path) -> None:
    """``pip install .`` into a fresh venv, then ``aimarket run baseline`` from elsewhere.

    Dependencies come from pip's cache (or the index); ``--no-compile`` skips byte-compiling
    them, which halves the time (about 1.5 min instead of 3 on two busy cores).
    """
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-compile", str(ROOT)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    work = tmp_path / "elsewhere"
    work.mkdir()
    aimarket = shutil.which("aimarket", path=str(venv / "bin"))
    assert aimarket is not None
    out = tmp_path / "out"
    done = subprocess.run(
        [aimarket, "run", "baseline", "--ticks", "2", "--out", str(out), "--quiet"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "baseline: 2 ticks" in done.stdout
    assert (out / "manifest.json").is_file() and (out / "report.html").is_file()
    shown = subprocess.run([aimarket, "--version"], env=env, capture_output=True, text=True)
    assert shown.stdout.strip() == f"aimarket {PYPROJECT['project']['version']}"
    # The installed copy, not this checkout, was run.
    where = subprocess.run(
        [str(python), "-c", "import experiments; print(experiments.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert str(ROOT) not in where.stdout and str(venv) in where.stdout
