"""The documentation builds without a warning, and Orange's F1 help opens every widget's
page in it the way the canvas does (orange.canvas.help: an html index with a "widgets"
section)."""
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "doc")


@pytest.fixture(scope="module")
def built():
    """The HTML help, built where F1 looks for it in a checkout (doc/_build/html)."""
    from sphinx.cmd.build import build_main
    out = os.path.join(DOC, "_build", "html")
    status = build_main(["-W", "--keep-going", "-q", "-b", "html", DOC, out])
    assert status == 0, "sphinx reported warnings or errors (run `make doc`)"
    return out


def widget_classes():
    from orangecontrib.geophoto.widgets.owexifgeotag import OWExifGeotag
    from orangecontrib.geophoto.widgets.owgeoclassifier import OWGeoClassifier
    from orangecontrib.geophoto.widgets.owkmlexport import OWKMLExport
    from orangecontrib.geophoto.widgets.owlocalembedder import OWLocalEmbedder
    from orangecontrib.geophoto.widgets.owreversegeocode import OWReverseGeocode
    from orangecontrib.geophoto.widgets.owwritegeotags import OWWriteGeotags
    return [OWExifGeotag, OWLocalEmbedder, OWGeoClassifier, OWReverseGeocode, OWKMLExport,
            OWWriteGeotags]


def test_f1_help_opens_every_widget_page(built):
    """As the canvas answers F1: Orange's HelpManager, through our orange.canvas.help entry
    point, gives each widget's page of the built help."""
    from AnyQt.QtTest import QTest
    from Orange.widgets.tests.base import GuiTest
    from orangecanvas.help import HelpManager
    from orangecontrib.geophoto.widgets import workflow
    GuiTest.setUpClass()  # the one QApplication
    registry = workflow.widget_registry()
    manager = HelpManager()
    manager.set_registry(registry)
    for widget in widget_classes():
        qualified = f"{widget.__module__}.{widget.__name__}"
        for _ in range(100):  # the index page loads asynchronously
            try:
                url = manager.search({"id": qualified})
                break
            except KeyError:
                QTest.qWait(50)
        else:
            pytest.fail(f"F1 finds no help page for {widget.name}")
        page = url.toLocalFile()
        assert os.path.isfile(page), page
        assert os.path.samefile(os.path.dirname(page), os.path.join(built, "widgets"))
        assert os.path.basename(page) == widget.name.lower().replace(" ", "-") + ".html"


@pytest.mark.parametrize("widget", widget_classes(), ids=lambda w: w.name)
def test_widget_page_describes_signals_options_and_shows_the_widget(widget):
    name = widget.name.lower().replace(" ", "-")
    with open(os.path.join(DOC, "widgets", f"{name}.md"), encoding="utf-8") as f:
        text = f.read()
    assert text.startswith(f"# {widget.name}\n")
    for signal in (*widget.get_signals("inputs"), *widget.get_signals("outputs")):
        assert signal.name in text, f"{widget.name}: signal {signal.name} undocumented"
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert images and all(os.path.isfile(os.path.join(DOC, "widgets", i)) for i in images)
    assert "## Example" in text


def test_every_example_workflow_is_a_tutorial():
    with open(os.path.join(DOC, "tutorials.md"), encoding="utf-8") as f:
        text = f.read()
    for ows in sorted(os.listdir(os.path.join(ROOT, "workflows"))):
        if ows.endswith(".ows"):
            name = ows[:-4]
            assert f"`{ows}`" in text, f"{ows} is not described in doc/tutorials.md"
            assert f"images/workflows/{name}.png" in text
            assert os.path.isfile(os.path.join(DOC, "images", "workflows", f"{name}.png"))
