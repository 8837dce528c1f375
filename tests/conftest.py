"""Shared fixtures and the test-suite's settings; the shared helpers are in ``helpers.py``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .helpers import copy_sample

# helpers that lived here: tests written against ``from .conftest import ...`` still find them
from .helpers import TEST_DATA, jinsha_expected, make_da, run_cli, write_tif  # noqa: F401

REPO = Path(__file__).resolve().parents[1]

# --- how hard the property-based (hypothesis) tests search ----------------------------------
# The default run draws a fifth of the examples (at least 10) so that the README's test command
# stays short; HYPOTHESIS_PROFILE=exhaustive draws every test's full count (CI runs it after the
# default run, README "Testing"). Each property test states its full count: examples(60).
from hypothesis import settings as _hyp_settings  # noqa: E402

_hyp_settings.register_profile("exhaustive", _hyp_settings())
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")
_hyp_settings.load_profile(PROFILE)        # an unknown name is an error, not a silent default
EXHAUSTIVE = PROFILE == "exhaustive"


def examples(full: int) -> int:
    """The number of examples a property test draws: ``full`` in the exhaustive profile, else
    a fifth of it (at least 10, at most ``full``)."""
    return full if EXHAUSTIVE else min(full, max(10, full // 5))


@pytest.fixture()
def sample(tmp_path: Path) -> Path:
    """A copy of the bundled pipelines and Jinsha data that a test may edit."""
    return copy_sample(tmp_path)


@pytest.fixture(scope="session")
def jinsha_demo(tmp_path_factory):
    """``gepgeo demo`` of the bundled Jinsha pair, run once per session (:func:`run_demo`).

    Read-only: a test that writes into it works on a copy (``shutil.copytree(demo.out, ...)``).
    Without reports: the report tests write them on their copy (and ``gepgeo demo`` itself is
    run, reports included, by the CLI tests).
    """
    from gepgeo.demo import run_demo

    return run_demo(tmp_path_factory.mktemp("jinsha-demo") / "demo", report=False)

