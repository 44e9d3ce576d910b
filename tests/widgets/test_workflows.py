"""Every example workflow loads on a real (offscreen) canvas scheme, runs until its signals
settle, and no widget shows an error: what a workshop participant sees when opening it."""
import glob
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKFLOWS = sorted(glob.glob(os.path.join(ROOT, "workflows", "*.ows")))


@pytest.fixture(scope="module")
def registry():
    from Orange.canvas.config import Config
    from orangecanvas.registry import WidgetRegistry
    from Orange.widgets.tests.base import GuiTest
    GuiTest.setUpClass()  # the one QApplication
    reg = WidgetRegistry()
    Config.widget_discovery(reg).run(Config.widgets_entry_points())
    return reg


def test_examples_exist():
    assert WORKFLOWS, "no example workflows in workflows/"


@pytest.mark.parametrize("path", WORKFLOWS, ids=os.path.basename)
def test_workflow_runs_without_errors(registry, path):
    from AnyQt.QtTest import QSignalSpy
    from orangecanvas.scheme.node import UserMessage
    from orangewidget.workflow.widgetsscheme import WidgetsScheme
    from orangewidget.tests.utils import excepthook_catch
    scheme = WidgetsScheme()
    scheme.set_runtime_env("basedir", os.path.dirname(path))
    manager = scheme.signal_manager
    manager.pause()
    try:
        with excepthook_catch(raise_on_exit=True):
            with open(path, "rb") as f:
                scheme.load_from(f, registry=registry)
            widgets = [scheme.widget_for_node(node) for node in scheme.nodes]
            finished = QSignalSpy(manager.finished)
            manager.resume()
            assert finished.wait(180_000), "signals did not settle"
            _wait_until_settled(manager, widgets)
        errors = [(node.title, msg.contents) for node in scheme.nodes
                  for msg in node.state_messages()
                  if msg.contents and msg.severity == UserMessage.Error]
        assert errors == []
        geophoto = [w for w in widgets if type(w).__module__.startswith("orangecontrib.geophoto")]
        assert geophoto, "the example uses no geophoto widget"
        # every geophoto widget that computes something has computed it
        idle = [type(w).__name__ for w in geophoto
                if hasattr(w, "result") and w.result is None]
        assert idle == []
    finally:
        scheme.clear()
        scheme.deleteLater()


def _wait_until_settled(manager, widgets, timeout=300_000):
    """Wait until no widget works on its thread (ConcurrentWidgetMixin) and no signal is
    pending: a widget's threaded output starts a new round of propagation."""
    from AnyQt.QtTest import QTest
    waited, quiet = 0, 0
    while waited < timeout and quiet < 5:
        busy = manager.has_pending() or any(
            getattr(w, "task", None) is not None or w.isBlocking() for w in widgets)
        quiet = 0 if busy else quiet + 1
        QTest.qWait(100)
        waited += 100
    assert waited < timeout, "widgets did not finish"
