"""The documentation builds without a warning, and Orange's F1 help finds every widget's
page in it the way the canvas does (orange.canvas.help: an html index with a "widgets"
section)."""
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "doc")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from sphinx.cmd.build import build_main
    out = tmp_path_factory.mktemp("html")
    status = build_main(["-W", "--keep-going", "-q", "-b", "html", DOC, str(out)])
    assert status == 0, "sphinx reported warnings or errors (run `make doc`)"
    return out


def widget_classes():
    from orangecontrib.geophoto.widgets.owexifgeotag import OWExifGeotag
    from orangecontrib.geophoto.widgets.owgeoclassifier import OWGeoClassifier
    from orangecontrib.geophoto.widgets.owkmlexport import OWKMLExport
    from orangecontrib.geophoto.widgets.owlocalembedder import OWLocalEmbedder
    from orangecontrib.geophoto.widgets.owreversegeocode import OWReverseGeocode
    return [OWExifGeotag, OWLocalEmbedder, OWGeoClassifier, OWReverseGeocode, OWKMLExport]


def test_f1_help_finds_every_widget_page(built):
    from orangecanvas.help.provider import HtmlIndexProvider
    provider = HtmlIndexProvider.__new__(HtmlIndexProvider)  # its parser, without a network
    provider.xpathquery = None
    with open(built / "index.html", encoding="utf-8") as f:
        pages = provider._parse(f.read())
    for widget in widget_classes():
        page = pages.get(widget.name.lower())
        assert page, f"no help page for {widget.name}"
        assert (built / page).is_file()


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
