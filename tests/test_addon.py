"""The add-on as Orange sees it: entry points, the category, every widget's icon, docs,
report and settings; and the `geophoto` command's shape."""
import importlib
import os
import pkgutil
import subprocess
import sys
from importlib.metadata import entry_points

import pytest

import orangecontrib.geophoto.widgets as widgets_package
from orangecontrib.geophoto.cli import SUBCOMMANDS, build_parser, main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _our_entry_points(group):
    return [e for e in entry_points(group=group) if e.value.startswith("orangecontrib.geophoto")]


@pytest.mark.parametrize("group", ["orange3.addon", "orange.widgets",
                                   "orange.widgets.tutorials", "orange.canvas.help"])
def test_entry_points_are_registered_and_load(group):
    (ep,) = _our_entry_points(group)
    assert ep.load() is not None


def test_category_metadata():
    assert widgets_package.NAME == "Geo Photo"
    assert os.path.exists(os.path.join(os.path.dirname(widgets_package.__file__),
                                       widgets_package.ICON))
    assert widgets_package.BACKGROUND.startswith("#")


def _widget_classes():
    from orangewidget.widget import OWBaseWidget
    found = []
    for info in pkgutil.iter_modules(widgets_package.__path__):
        if info.ispkg:
            continue
        module = importlib.import_module(f"{widgets_package.__name__}.{info.name}")
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, OWBaseWidget) \
                    and obj.__module__ == module.__name__ and getattr(obj, "name", None):
                found.append(obj)
    return found


def test_canvas_discovers_our_widgets_under_the_category():
    from orangecanvas.registry import WidgetRegistry
    from Orange.canvas.config import Config
    registry = WidgetRegistry()
    Config.widget_discovery(registry).run(Config.widgets_entry_points())
    ours = [w for w in registry.widgets() if w.qualified_name.startswith("orangecontrib.geophoto")]
    assert {w.name for w in ours} == {cls.name for cls in _widget_classes()}
    assert all(w.category == "Geo Photo" for w in ours)


@pytest.mark.parametrize("cls", _widget_classes(), ids=lambda c: c.name)
def test_every_widget_has_icon_docs_report_and_keywords(cls):
    module_dir = os.path.dirname(sys.modules[cls.__module__].__file__)
    assert os.path.exists(os.path.join(module_dir, cls.icon)), cls.icon
    assert cls.icon.endswith(".svg")
    doc = os.path.join(ROOT, "doc", "widgets", cls.name.lower().replace(" ", "-") + ".md")
    assert os.path.exists(doc), f"missing documentation page {doc}"
    with open(doc, encoding="utf-8") as f:
        assert f.readline().strip().lstrip("# ") == cls.name
    assert any("send_report" in vars(k) for k in cls.__mro__
               if k.__module__.startswith("orangecontrib.geophoto")), "no send_report"
    assert cls.keywords and isinstance(cls.keywords, (list, str))
    assert cls.description


def test_cli_lists_every_capability_and_fails_in_one_line(tmp_path, capsys):
    parser = build_parser()
    help_text = parser.format_help()
    for name in SUBCOMMANDS:
        mod = f"orangecontrib/geophoto/cli/{name}.py"
        if os.path.exists(os.path.join(ROOT, mod)):
            assert name in help_text
    with pytest.raises(SystemExit) as ex:
        main(["--version"])
    assert ex.value.code == 0


def test_geophoto_console_script_runs():
    exe = os.path.join(os.path.dirname(sys.executable), "geophoto")
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0
    assert "usage: geophoto" in out.stdout
