"""Run an Orange workflow (``.ows``) without the canvas window: load it on a real widget
scheme, let every signal and every threaded widget settle, and read back what each widget
says. Used by ``geophoto workflow`` (a teacher checks the examples before a workshop), by the
tests of the example workflows and by ``tools/make_workflows.py``.

Needs a QApplication; with no display, set ``QT_QPA_PLATFORM=offscreen`` before Qt loads.
"""
import io
import os
from dataclasses import dataclass
from typing import List, Optional


@dataclass
class NodeMessage:
    node: str        # the node's title on the canvas
    severity: str    # "error", "warning" or "information"
    text: str


def isolate_widget_settings() -> str:
    """Make widgets read and write their class defaults in a fresh temporary folder instead
    of the user's Orange settings, so a workflow runs from what its file says alone and a
    headless run leaves the user's defaults untouched. Call before widgets are imported."""
    import atexit
    import shutil
    import tempfile
    from orangewidget.settings import set_widget_settings_dir_components
    folder = tempfile.mkdtemp(prefix="geophoto-widget-settings-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    set_widget_settings_dir_components(folder, "isolated")
    return folder


def widget_registry():
    """Every installed widget, discovered through the entry points as Orange does."""
    from Orange.canvas.config import Config
    from orangecanvas.registry import WidgetRegistry
    registry = WidgetRegistry()
    Config.widget_discovery(registry).run(Config.widgets_entry_points())
    return registry


def ensure_application():
    """The QApplication widgets need: the running one, or a new one."""
    from AnyQt.QtWidgets import QApplication
    return QApplication.instance() or QApplication([])


def new_scheme(basedir: Optional[str] = None):
    """An empty scheme whose signals wait for ``run_until_settled``."""
    from orangewidget.workflow.widgetsscheme import WidgetsScheme
    scheme = WidgetsScheme()
    if basedir:  # workflows find their files relative to themselves (Import Images)
        scheme.set_runtime_env("basedir", os.path.abspath(basedir))
    scheme.signal_manager.pause()
    return scheme


def load_scheme(path: str, registry=None):
    """The workflow at ``path`` on a scheme, its signals paused."""
    scheme = new_scheme(os.path.dirname(path))
    with open(path, "rb") as f:
        scheme.load_from(f, registry=registry or widget_registry())
    return scheme


def reload_scheme(scheme, registry=None):
    """Save ``scheme`` as a user's canvas would and load the bytes into a fresh scheme:
    what a colleague gets when opening the shared file."""
    scheme.sync_node_properties()
    buffer = io.BytesIO()
    scheme.save_to(buffer, pretty=True, pickle_fallback=True)
    buffer.seek(0)
    fresh = new_scheme(scheme.runtime_env().get("basedir"))
    fresh.load_from(buffer, registry=registry or widget_registry())
    return fresh


def widgets(scheme) -> list:
    return [scheme.widget_for_node(node) for node in scheme.nodes]


def widget_by_title(scheme, title: str):
    for node in scheme.nodes:
        if node.title == title:
            return scheme.widget_for_node(node)
    raise KeyError(f"no node titled {title!r} in the workflow")


def run_until_settled(scheme, timeout: float = 600) -> None:
    """Propagate signals until no signal is pending and no widget works on a thread;
    a threaded widget's output starts a new round, so one quiet moment is not enough."""
    from AnyQt.QtTest import QTest
    manager = scheme.signal_manager
    manager.resume()
    waited, quiet, step = 0.0, 0, 0.1
    while quiet < 5:
        busy = manager.has_pending() or any(
            getattr(w, "task", None) is not None or w.isBlocking() for w in widgets(scheme))
        quiet = 0 if busy else quiet + 1
        QTest.qWait(int(step * 1000))
        waited += step
        if waited > timeout:
            raise TimeoutError(f"the workflow did not settle in {timeout:.0f} s")


def wait_for_widget(widget, timeout: float = 120) -> None:
    """Until a threaded widget (ConcurrentWidgetMixin) has finished its task, e.g. a save
    started by hand after the workflow settled."""
    from AnyQt.QtTest import QTest
    waited, step = 0.0, 0.02
    while getattr(widget, "task", None) is not None:
        if waited > timeout:
            raise TimeoutError(f"{type(widget).__name__} did not finish in {timeout:.0f} s")
        QTest.qWait(int(step * 1000))
        waited += step


def messages(scheme, severities=("error", "warning")) -> List[NodeMessage]:
    """The messages widgets show on the canvas (the badges over their icons)."""
    from orangecanvas.scheme.node import UserMessage
    names = {UserMessage.Error: "error", UserMessage.Warning: "warning",
             UserMessage.Info: "information"}
    found = []
    for node in scheme.nodes:
        for message in node.state_messages():
            severity = names.get(message.severity, "information")
            if message.contents and severity in severities:
                found.append(NodeMessage(node.title, severity, message.contents))
    return found


def dispose(scheme) -> None:
    scheme.clear()
    scheme.deleteLater()


def output_value(scheme, title: str, output: str):
    """What the node titled ``title`` sends on ``output`` (read off its first link)."""
    for link in scheme.links:
        if link.source_node.title == title and link.source_channel.name == output:
            from orangecanvas.scheme.signalmanager import LazyValue
            contents = list(scheme.signal_manager.link_contents(link).values())
            value = contents[-1] if contents else None
            return value.get_value() if LazyValue.is_lazy(value) else value
    raise KeyError(f"{title!r} has no link from its output {output!r}")
