"""Run an Orange workflow (``.ows``) without the canvas window: load it on a real widget
scheme, let every signal and every threaded widget settle, and read back what each widget
says. Used by ``geophoto workflow`` (a teacher checks the examples before a workshop), by the
tests of the example workflows and by ``tools/make_workflows.py``.

Needs a QApplication; with no display, set ``QT_QPA_PLATFORM=offscreen`` before Qt loads.
"""
import io
import os
import re
from contextlib import contextmanager
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


class WorkflowError(ValueError):
    """A workflow file that cannot be loaded as it is; the message is one line."""


def load_scheme(path: str, registry=None):
    """The workflow at ``path`` on a scheme, its signals paused. A file that is not a
    workflow, names a widget that is not installed, links a node it does not have or
    holds unreadable settings is a WorkflowError: a check must not run half a workflow.

    Loading a workflow unpickles its widgets' settings, which can run code: open only
    workflows you trust."""
    registry = registry or widget_registry()
    _check_description(path, registry)
    scheme = new_scheme(os.path.dirname(path))
    try:
        with open(path, "rb") as f, _settings_failures() as failures:
            scheme.load_from(f, registry=registry)
        if failures:
            raise WorkflowError(f"{path}: {failures[0]}")
    except Exception as ex:
        dispose(scheme)
        if isinstance(ex, (WorkflowError, OSError)):
            raise
        raise WorkflowError(f"{path}: cannot be loaded ({_first_line(ex)})") from None
    return scheme


def _first_line(ex: Exception) -> str:
    return (str(ex).strip().splitlines() or [type(ex).__name__])[0][:200]


def _check_description(path: str, registry) -> None:
    """What orangecanvas would raise a traceback for, said in one line."""
    from xml.etree.ElementTree import ParseError
    from orangecanvas.scheme import readwrite
    try:
        with open(path, "rb") as f:
            desc = readwrite.parse_ows_stream(f)
    except (ParseError, ValueError, TypeError, AttributeError, KeyError) as ex:
        raise WorkflowError(f"not a workflow file: {path} ({_first_line(ex)})") from None
    replaced = {old for widget in registry.widgets() for old in widget.replaces or ()}
    ids = set()
    for node in desc.nodes:
        ids.add(node.id)
        if not registry.has_widget(node.qualified_name) \
                and node.qualified_name not in replaced:
            raise WorkflowError(
                f"{path}: widget {node.name or node.qualified_name} from add-on "
                f"{node.project_name or '(unnamed)'} is not installed (node "
                f"{node.title!r}, {node.qualified_name})")
    for link in desc.links:
        for end in (link.source_node_id, link.sink_node_id):
            if end not in ids:
                raise WorkflowError(f"{path}: a link to node {end}, which the workflow "
                                    "does not have")


@contextmanager
def _settings_failures():
    """orangecanvas logs (with a traceback) and skips a node whose settings cannot be
    unpickled; collect those instead, so the caller can refuse the file."""
    import logging
    failures = []

    class Collect(logging.Handler):
        def emit(self, record):
            if record.levelno >= logging.ERROR:
                title = record.args[0] if record.args else "a widget"
                failures.append(f"the settings of {title} cannot be read")

    logger = logging.getLogger("orangecanvas.scheme.readwrite")
    handler, propagate = Collect(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield failures
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


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
    return [m for node in scheme.nodes for m in messages_of(node, severities)]


def messages_of(node, severities=("error", "warning")) -> List[NodeMessage]:
    """The messages one node shows."""
    from orangecanvas.scheme.node import UserMessage
    names = {UserMessage.Error: "error", UserMessage.Warning: "warning",
             UserMessage.Info: "information"}
    found = []
    for message in node.state_messages():
        severity = names.get(message.severity, "information")
        if message.contents and severity in severities:  # the message, not its details
            found.append(NodeMessage(node.title, severity,
                                     message.contents.strip().splitlines()[0]))
    return found


def dispose(scheme) -> None:
    scheme.clear()
    scheme.deleteLater()


def output_value(scheme, title: str, output: str):
    """What the node titled ``title`` sends on ``output`` (read off its first link)."""
    for link in scheme.links:
        if link.source_node.title == title and link.source_channel.name == output:
            return _link_value(scheme, link)
    raise KeyError(f"{title!r} has no link from its output {output!r}")


def _link_value(scheme, link):
    from orangecanvas.scheme.signalmanager import LazyValue
    contents = list(scheme.signal_manager.link_contents(link).values())
    value = contents[-1] if contents else None
    return value.get_value() if LazyValue.is_lazy(value) else value


def _has_data(value) -> bool:
    try:
        return value is not None and len(value) > 0
    except TypeError:  # a model or a learner: something to work on
        return value is not None


def check(scheme) -> List[NodeMessage]:
    """What ``geophoto workflow`` reports: the widgets' errors and warnings, with a warning
    that leaves nothing to work on raised to an error (see ``starved``) in its place."""
    raised = starved(scheme)
    found = []
    for message in messages(scheme):
        error = next((e for e in raised if e.node == message.node
                      and e.text.endswith(message.text)), None)
        if error is None:
            found.append(message)
        elif error not in found:
            found.append(error)
    return found + [e for e in raised if e not in found]


def starved(scheme) -> List[NodeMessage]:
    """Widgets that leave the rest of the workflow with nothing to work on, as errors: a
    source (no inputs) that sent no data on any of its links, e.g. Import Images whose
    folder is missing; a widget whose warning counts every row it got ("9 files could not
    be read" of 9); and a widget that got data, warns and sends nothing on. A headless
    check must fail there, not pass because nothing downstream had anything to do."""
    from Orange.data import Table
    found = []
    for node in scheme.nodes:
        shown = messages_of(node)
        if any(m.severity == "error" for m in shown):
            continue  # already counted as an error
        links = [link for link in scheme.links if link.enabled]
        sent = [_link_value(scheme, link) for link in links if link.source_node is node]
        got = [_link_value(scheme, link) for link in links if link.sink_node is node]
        sends_nothing = bool(sent) and not any(_has_data(value) for value in sent)
        warnings = [m.text for m in shown if m.severity == "warning"]
        if not got and sends_nothing:
            text = "sent no data, so the widgets after it have nothing to work on" \
                + _source_hint(scheme, node)
            found.append(NodeMessage(node.title, "error", text))
            continue
        rows = max((len(v) for v in got if isinstance(v, Table)), default=0)
        for warning in warnings:
            counted = re.match(r"\s*(\d+) ", warning)
            if rows and counted and int(counted.group(1)) >= rows:
                found.append(NodeMessage(node.title, "error", f"nothing to work on: {warning}"))
                break
            if sends_nothing and any(_has_data(value) for value in got):
                found.append(NodeMessage(node.title, "error", f"sent no data: {warning}"))
                break
    return found


def _source_hint(scheme, node) -> str:
    """Where a file-reading source looked, from its recent paths (Import Images, File)."""
    recent = getattr(scheme.widget_for_node(node), "recent_paths", None) or []
    if not recent or not hasattr(recent[0], "abspath"):
        return ""
    path = recent[0]
    basedir = scheme.runtime_env().get("basedir")
    if path.prefix == "basedir" and basedir and path.relpath:
        where = os.path.join(basedir, path.relpath)
    else:
        where = path.abspath
    return f" (is {where} missing or empty?)"
