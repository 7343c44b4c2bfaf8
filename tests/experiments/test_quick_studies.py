"""Quicker studies: what-if policies given on the command line, sweep options over the plan."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from experiments.cli import main
from experiments.scenarios import ScenarioError
from experiments.studies.whatif import parse_policy, whatif

SCENARIOS = Path(__file__).parents[2] / "experiments" / "scenarios"
BASELINE = SCENARIOS / "baseline.toml"
OUTPUTS = ("unmet_share", "price_accelerator")


def test_a_policy_given_by_override_equals_the_same_policy_written_as_a_file(tmp_path):
    text = BASELINE.read_text()
    assert text.count("training_growth = 0.60") == 1  # OpenAI's, the first lab
    slow = tmp_path / "slow.toml"
    slow.write_text(text.replace("training_growth = 0.60", "training_growth = 0.30"))
    by_file = whatif(BASELINE, [slow], seeds=2, ticks=3, out=tmp_path / "f", progress=False,
                     outputs=OUTPUTS)  # fmt: skip
    by_override = whatif(BASELINE, [], seeds=2, ticks=3, out=tmp_path / "o", progress=False,
                         outputs=OUTPUTS,
                         overrides={"slow": {"labs[OpenAI].training_growth": 0.3}})  # fmt: skip
    pd.testing.assert_frame_equal(by_file, by_override)
    assert (by_override["diff_mean"] != 0).any()  # the policy does change something


def test_whatif_cli_takes_repeated_policies_with_several_changes_each(tmp_path, capsys):
    out = tmp_path / "w"
    argv = ["whatif", str(BASELINE), "--policy", "a:labs[OpenAI].training_growth=0.5",
            "--policy", "a:behaviour.foresight=0.2", "--policy", "b:behaviour.foresight=0.3",
            "--seeds", "2", "--ticks", "2", "--workers", "0", "--out", str(out),
            "--quiet"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    assert "a vs base" in capsys.readouterr().out
    summary = pd.read_csv(out / "whatif.csv")
    assert list(dict.fromkeys(summary["policy"])) == ["a", "b"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scenarios"]["a"]["overrides"] == {
        "labs[OpenAI].training_growth": 0.5, "behaviour.foresight": 0.2}  # fmt: skip
    assert manifest["scenarios"]["b"]["overrides"] == {"behaviour.foresight": 0.3}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a:x.y=0.5", ("a", "x.y", 0.5)),
        ("cn:labs[DeepSeek].region=CN", ("cn", "labs[DeepSeek].region", "CN")),
        ('p:meta.name="x"', ("p", "meta.name", "x")),
        ("p:flag=true", ("p", "flag", True)),
    ],
)
def test_policy_values_are_read_as_toml_values(text, expected):
    assert parse_policy(text) == expected


@pytest.mark.parametrize("bad", ["nocolon=1", "a:path", "a:=1", ":x=1", "base:x=1", "a b:x=1"])
def test_a_malformed_policy_is_refused_at_parse_time(bad, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["whatif", str(BASELINE), "--policy", bad])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "--policy" in err and "Traceback" not in err


def test_a_policy_override_on_a_missing_path_names_the_policy(tmp_path):
    with pytest.raises(ScenarioError) as err:
        whatif(BASELINE, [], seeds=2, ticks=2, out=tmp_path / "x", progress=False,
               overrides={"p": {"labs[Nobody].training": 1.0}})  # fmt: skip
    assert "--policy p" in str(err.value) and "Nobody" in str(err.value)


SWEEP = """
sampler = "lhs"
samples = 8
seeds = 1
ticks = 20
outputs = ["unmet_share"]
[[parameters]]
path = "behaviour.foresight"
range = [0.1, 0.6]
"""


def test_sweep_samples_and_ticks_override_the_plan(tmp_path, capsys):
    plan = tmp_path / "s.toml"
    plan.write_text(f'name = "t"\nbase = "{BASELINE}"\n' + SWEEP)
    out = tmp_path / "out"
    assert main(["sweep", str(plan), "--samples", "3", "--ticks", "2", "--workers", "0",
                 "--out", str(out), "--quiet"]) == 0  # fmt: skip
    df = pd.read_parquet(out / "results.parquet")
    assert len(df) == 3
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["plan"]["samples"] == 3 and manifest["plan"]["ticks"] == 2


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--ticks", "41"], "past the base scenario's horizon"),
        (["--samples", "3"], "grid sampler takes no samples"),
    ],
)
def test_sweep_options_are_checked_like_the_plan(tmp_path, capsys, options, words):
    body = SWEEP if "--ticks" in options else SWEEP.replace('"lhs"', '"grid"')
    plan = tmp_path / "s.toml"
    plan.write_text(f'name = "t"\nbase = "{BASELINE}"\n' + body)
    assert main(["sweep", str(plan), *options, "--workers", "0", "--out",
                 str(tmp_path / "o"), "--quiet"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert words in err and options[0] in err
