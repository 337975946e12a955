"""Test-suite settings shared by every test module.

Hypothesis draws its examples from a fixed seed by default (`derandomize`), so that CI and every
developer run the same cases and a run's verdict does not depend on luck: a property test once failed
in CI on an example no earlier run had drawn. `HYPOTHESIS_PROFILE=explore` draws new random examples
(what to run now and then to look for new counterexamples; fix the bug or the property, then add the
example as a named test).
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("deterministic", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))
