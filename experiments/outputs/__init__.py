"""Outputs of runs and studies: files (atomic writes, locks, reading back), number
formatting and text tables, run tables, plots and HTML reports.

- ``files``: one atomic-write helper, Parquet/JSON read back with errors naming the
  file, output-folder checks, the exclusive folder lock, safe output names, versions;
- ``format``: one number formatter and plain-text tables built from pandas;
- ``glossary``: the one units table keyed by good and a description of every table
  column (reports print it; a test fails on a column without one);
- ``tables``: a run's tables (all seeds) written as Parquet and read back, the
  headline series and the summary table (median [p10, p90] over seeds);
- ``plots``: every PNG (runs, sweeps, what-if, sensitivity);
- ``report``: self-contained ``report.html`` of any run or study folder.
"""
