"""Shared fixtures; scenario builders live in `builders`."""

from __future__ import annotations

import pytest
from builders import make_scenario


@pytest.fixture
def scenario_factory():
    return make_scenario
