"""Paths to real test data, importable from unittest-style tests too."""
from tests.conftest import SHARED_DATA, VENICE, venice_or_skip  # noqa: F401
