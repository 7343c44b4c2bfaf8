"""Studies: one run (``run``), sweep plans (``plan``), sweeps (``sweep``), what-if studies
(``whatif``) and global sensitivity analysis (``sensitivity``).

Every study builds tasks and a runner and hands them to the engine
(``experiments.engine.execute``); designs come from ``experiments.samplers``, and
results are written and shown through ``experiments.outputs``.
"""
