"""Shared test fixtures: where the real data lives."""
import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Widgets keep their class defaults in a temporary folder: tests neither read nor change
# this machine's Orange settings.
from orangecontrib.geophoto.widgets.workflow import isolate_widget_settings  # noqa: E402
isolate_widget_settings()

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.abspath(os.path.join(ROOT, "..", "shared", "data"))
VENICE = os.path.join(SHARED_DATA, "venice")


def venice_or_skip():
    """Path of ../shared/data/venice, or skip the test with the reason."""
    if not os.path.isdir(os.path.join(VENICE, "images")):
        pytest.skip(f"real photos not found at {VENICE} (see shared/data/README.md)")
    return VENICE


@pytest.fixture
def venice():
    return venice_or_skip()
