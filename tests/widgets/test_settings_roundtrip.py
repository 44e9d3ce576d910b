"""Every setting of every geophoto widget survives saving and reopening a workflow.

Orange3-geo issue #179 is what happens otherwise: a user sets a widget up, saves the
workflow, and finds the choice gone next time. Each test here does what the canvas does:
the widget sits on a real (offscreen) ``WidgetsScheme``, gets real input (the sample photos
as Import Images reads them, their geotags, their embeddings), every setting is given a value
that differs from what the widget picks by itself, the scheme is synced and saved to ``.ows``
bytes, loaded into a fresh scheme, the same input arrives again, and every setting must be
back.

The settings are enumerated from the widget's settings provider, so a setting added later
fails ``test_every_setting_is_covered`` until it gets a value in ``NON_DEFAULT`` (or a reason
in ``NOT_COVERED``).
"""
import importlib
import io
import os
from dataclasses import dataclass, field
from typing import Callable, Dict

import pytest
from Orange.data import Variable
from orangewidget.settings import ContextSetting, SettingProvider

from orangecontrib.geophoto.widgets import workflow
from orangecontrib.geophoto.datasets import SAMPLE_PHOTOS
from orangecontrib.geophoto.widgets.owlocalembedder import MODEL_KEYS

WIDGETS = "orangecontrib.geophoto.widgets."
WINDOW = {"savedWidgetGeometry": "window geometry, not a choice of the user's",
          "controlAreaVisible": "window layout, not a choice of the user's"}


@dataclass
class Case:
    widget: str                                  # qualified class name, as registered
    data: str                                    # name of the module fixture with its input
    non_default: Dict[str, object]               # setting -> value (variables by name)
    not_covered: Dict[str, str] = field(default_factory=dict)  # setting -> why not
    # (monkeypatch, tmp_path, values) -> state: fills values left None, keeps the test offline
    setup: Callable = None
    check: Callable = None                       # (restored widget, tmp_path, state) -> None


# ---- input data: real photos, read once per module ------------------------------------------

@pytest.fixture(scope="module")
def images():
    """The sample photos as Import Images emits them (its own code)."""
    from orangecontrib.imageanalytics.import_images import ImportImages
    data, _ = ImportImages()(SAMPLE_PHOTOS)
    assert len(data) == 9
    return data


@pytest.fixture(scope="module")
def geotagged(images):
    """What EXIF Geotag sends on: the photos with latitude, longitude, time, camera."""
    from orangecontrib.geophoto.exif import geotag_table
    return geotag_table(images)


@pytest.fixture(scope="module")
def embedded():
    """A few real photos, embedded (SqueezeNet fire9) and geotagged: the swiped photos of the
    example workflows, whose folders (liked/disliked) are a discrete ``category``."""
    from orangecontrib.geophoto.exif import geotag_table
    from orangecontrib.geophoto.tutorials import __file__ as tutorials
    from tests.widgets.test_owgeoclassifier import _folder_table
    data = geotag_table(_folder_table(os.path.join(os.path.dirname(tutorials), "swipes")))
    assert data.domain.class_var.name == "category" and len(data) == 8
    return data


# ---- the widgets, each setting given a value the widget would not pick itself ---------------

def _gpx(monkeypatch, tmp_path, values):
    values["gpx_path"] = str(tmp_path / "walk.gpx")  # schema_only: kept in the workflow


def _no_network(monkeypatch, tmp_path, values):
    """Online geocoding is one of the settings: answer it here instead of Nominatim."""
    import orangecontrib.geophoto.geocode.online as online
    asked = []

    class OfflineNominatim:
        def __init__(self, language=None, **_):
            asked.append(language)

        def lookup(self, lat, lon):
            return {"place": "Asked online"}

    monkeypatch.setattr(online, "OnlineGeocoder", OfflineNominatim)
    return asked


def _asked_online_in_german(widget, tmp_path, asked):
    assert asked == ["de"]  # only the restored widget asked, in the restored language
    assert "Asked online" in set(widget.result.get_column("place"))


def _export_folder(monkeypatch, tmp_path, values):
    # inside the workflow's folder, so OWSaveBase keeps the path relative and auto save on
    (tmp_path / "exports").mkdir()
    values["stored_path"] = "exports"


def _saved_on_arrival(widget, tmp_path, _):
    assert widget.filename == str(tmp_path / "exports" / "photos.kml")
    assert (tmp_path / "exports" / "photos.kml").exists()  # auto save ran on the new input


def _nothing_written(widget, tmp_path, _):
    """Reopening a workflow previews; it never writes (and never arms writing in place)."""
    assert widget.result is not None and widget.result.dry_run
    assert not (tmp_path / "copies").exists()
    assert widget.confirmed is False


CASES = {
    "OWExifGeotag": Case(
        WIDGETS + "owexifgeotag.OWExifGeotag", "images",
        dict(image_var="image name", use_track=True, gpx_path=None, clock_offset=1.5,
             max_gap=20, use_neighbours=True, neighbour_minutes=45, auto_apply=False),
        setup=_gpx),
    "OWLocalEmbedder": Case(
        WIDGETS + "owlocalembedder.OWLocalEmbedder", "images",
        dict(image_var="image name", model_index=MODEL_KEYS.index("custom"),
             squeezenet_layer=0, custom_path="/no/such/model.keras", custom_layer="dense_1",
             top_k=3, batch_size=8, auto_apply=False)),
    "OWReverseGeocode": Case(
        WIDGETS + "owreversegeocode.OWReverseGeocode", "geotagged",
        dict(lat_var="longitude", lon_var="latitude", online=True, language_index=2,
             auto_apply=False),
        setup=_no_network, check=_asked_online_in_german),
    "OWKMLExport": Case(
        WIDGETS + "owkmlexport.OWKMLExport", "geotagged",
        dict(name_template="{camera model}", group_var="position source",
             balloon_vars=["camera model", "time (UTC)"], thumbnail_size=80, time_line=True,
             uncertainty_circles=False, privacy=1, privacy_grid_m=500,
             filter="Google Earth KML (*.kml)", stored_path=None, stored_name="photos.kml",
             auto_save=True),
        setup=_export_folder, check=_saved_on_arrival),
    "OWWriteGeotags": Case(
        WIDGETS + "owwritegeotags.OWWriteGeotags", "geotagged",
        dict(mode=1, out_dir="copies", max_radius_m=250, overwrite=True, keep_mtime=False),
        check=_nothing_written),
    "OWGeoClassifier": Case(
        WIDGETS + "owgeoclassifier.OWGeoClassifier", "embedded",
        dict(lat_var="longitude", lon_var="latitude", place_var="category", method=2,
             do_evaluate=False, top_k=3, auto_apply=False,
             # ratings by column name (they usually come on the Photos input)
             liked_name="category")),
}


# ---- helpers: the canvas, its input and the comparison ------------------------------------

@pytest.fixture(scope="module")
def registry():
    from Orange.widgets.tests.base import GuiTest
    GuiTest.setUpClass()  # the one QApplication
    return workflow.widget_registry()


def _settings_of(widget):
    """{name: Setting} of the widget (its own; components would need names with a path)."""
    found = {}
    for setting, _, instance in widget.settingsHandler.provider.traverse_settings(
            instance=widget):
        assert instance is widget, f"component setting {setting.name}: extend this test"
        found[setting.name] = setting
    return found


def _comparable(value):
    if isinstance(value, Variable):
        return value.name
    if isinstance(value, (list, tuple)):
        return [_comparable(v) for v in value]
    return value


def _as_value(setting, value, data):
    """A variable of ``data`` for a context setting given by name."""
    if not isinstance(setting, ContextSetting):
        return value
    domain = data.domain
    return [domain[v] for v in value] if isinstance(value, list) else domain[value]


def _widget_class(case):
    module, name = case.widget.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def _send(widget, value):
    """Deliver the Data (Images) input as the signal manager does: the handler, then
    handleNewSignals."""
    getattr(widget, widget.Inputs.data.handler)(value)
    widget.handleNewSignals()


@pytest.fixture
def pristine_defaults():
    """Widgets write their settings to class defaults when a scheme is cleared: start each
    test without them (a setting lost by the workflow can not sneak back from there) and
    leave the defaults as they were for the other tests."""
    saved = []
    for case in CASES.values():
        handler = _widget_class(case).settingsHandler
        saved.append((handler, handler.defaults, getattr(handler, "global_contexts", None)))
        handler.defaults = {}
        if hasattr(handler, "global_contexts"):
            handler.global_contexts = []
    yield
    for handler, defaults, contexts in saved:
        handler.defaults = defaults
        if contexts is not None:
            handler.global_contexts = contexts


# ---- the tests -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", CASES)
def test_every_setting_is_covered(registry, name):
    """A new setting needs a non-default value below, or a stated reason to leave it out."""
    case = CASES[name]
    names = {s.name for s, _, _ in
             SettingProvider(_widget_class(case)).traverse_settings()}
    assert set(case.not_covered).isdisjoint(case.non_default)
    covered = set(case.non_default) | set(case.not_covered) | set(WINDOW)
    assert names - covered == set(), f"{name}: give these settings a non-default value"
    assert covered - names == set(), f"{name}: these are not settings (any more)"


@pytest.mark.parametrize("name", CASES)
def test_settings_survive_saving_and_reopening_the_workflow(
        request, registry, pristine_defaults, monkeypatch, tmp_path, name):
    case = CASES[name]
    data = request.getfixturevalue(case.data)
    values = dict(case.non_default)
    state = case.setup(monkeypatch, tmp_path, values) if case.setup else None
    assert None not in values.values(), "setup must fill in every value left None"

    scheme = workflow.new_scheme(str(tmp_path))  # the workflow's folder: tmp_path
    reopened = None
    try:
        node = scheme.new_node(registry.widget(case.widget))
        widget = scheme.widget_for_node(node)
        _send(widget, data)
        workflow.wait_for_widget(widget, 60)
        settings = _settings_of(widget)

        chosen = {}
        for setting_name, value in values.items():
            assert setting_name in settings, f"{setting_name} is not a setting (any more)"
            value = _as_value(settings[setting_name], value, data)
            as_found = _comparable(getattr(widget, setting_name))
            assert _comparable(value) != as_found, \
                f"{setting_name}: {value!r} is what the widget picks by itself"
            setattr(widget, setting_name, value)
            chosen[setting_name] = _comparable(value)
        assert {n: _comparable(getattr(widget, n)) for n in chosen} == chosen

        # what File -> Save does, then File -> Open in a fresh canvas
        scheme.sync_node_properties()
        buffer = io.BytesIO()
        scheme.save_to(buffer, pretty=True, pickle_fallback=True)
        buffer.seek(0)
        reopened = workflow.new_scheme(str(tmp_path))
        reopened.load_from(buffer, registry=registry)
        (restored_node,) = reopened.nodes
        restored = reopened.widget_for_node(restored_node)
        assert type(restored) is type(widget) and restored is not widget
        _send(restored, data)
        workflow.wait_for_widget(restored, 60)

        got = {n: _comparable(getattr(restored, n)) for n in chosen}
        lost = {n: (chosen[n], got[n]) for n in chosen if got[n] != chosen[n]}
        assert lost == {}, f"{name}: settings lost (set, after reopening): {lost}"
        if case.check:
            case.check(restored, tmp_path, state)
    finally:
        for s in (scheme, reopened):
            if s is not None:
                for w in workflow.widgets(s):
                    workflow.wait_for_widget(w, 60)
                workflow.dispose(s)
