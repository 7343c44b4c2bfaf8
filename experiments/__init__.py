"""Experiments: scenarios (TOML), runs, sweeps, what-if studies, sensitivity, reports, CLI.

The Python API for notebooks, each returning a pandas DataFrame::

    import experiments
    runs = experiments.sweep("experiments/sweeps/demand_and_hbm.toml", out="runs/s", workers=2)
    diffs = experiments.whatif("experiments/scenarios/baseline.toml",
                               ["experiments/scenarios/taiwan_outage.toml"], seeds=8)
    indices = experiments.sensitivity("experiments/sweeps/sobol_lockin.toml", workers=2)

(The modules of the same names hold the machinery: ``experiments.sweep`` the
function shadows its module as a package attribute; import from the module with
``from experiments.sweep import execute``.)
"""

from experiments.sensitivity import sensitivity
from experiments.sweep import sweep
from experiments.whatif import whatif

__all__ = ["sensitivity", "sweep", "whatif"]
