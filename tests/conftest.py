"""Test-suite settings: under CI, property tests run a fixed, derandomised set of examples."""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "default")
