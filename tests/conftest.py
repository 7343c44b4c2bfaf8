"""Test-suite settings: property tests run a fixed, derandomised set of examples, so the
README's test command gives the same result on every machine and every run. A fuzzing
campaign that explores new examples: ``HYPOTHESIS_PROFILE=explore pytest tests/fuzz``."""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
