"""Outputs of runs and studies: files (atomic writes, locks, reading back), number
formatting and text tables, run tables, plots and HTML reports.

- ``files``: one atomic-write helper, Parquet/JSON read back with errors naming the
  file, output-folder checks, the exclusive folder lock, safe output names, versions;
- ``format``: one number formatter and plain-text tables built from pandas;
- ``tables``: a run's tables written as Parquet and read back, its summary table;
- ``plots``: every PNG (runs, sweeps, what-if, sensitivity);
- ``report``: self-contained ``report.html`` of any run or study folder.
"""
