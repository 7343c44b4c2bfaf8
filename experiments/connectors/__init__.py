"""Connectors to external tools: ``ema`` (EMA Workbench: the market as an EMA model,
and a Dask evaluator). Each is optional; import it only when the tool is installed."""
