"""The example workflows, as a workshop participant meets them: each loads on a real
(offscreen) canvas scheme, runs on the bundled photos until its signals settle, shows no
widget error, and produces what its description promises. Every widget's settings survive
saving and reopening the workflow (orange3-geo issue #179 is what happens otherwise)."""
import glob
import os

import numpy as np
import pytest

from orangecontrib.geophoto.widgets import workflow

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FOLDER = os.path.join(ROOT, "workflows")
WORKFLOWS = sorted(glob.glob(os.path.join(FOLDER, "*.ows")))
TITLES = {  # the seeds' scenarios, as the issue names them
    "lobe-style-classification.ows": "Supervised classification, Lobe-style",
    "photos-to-google-earth.ows": "Photos to Google Earth",
    "places-and-recommendations.ows": "City recognition and recommendations",
    "where-was-it-taken.ows": "Where was it taken?",
    "workshop-clustering.ows": "Workshop clustering",
    "geotag-from-a-track.ows": "Geotag photos from a GPS track",
}
EXPECTED = sorted(name[:-4] for name in TITLES)


@pytest.fixture(scope="module")
def registry():
    from Orange.widgets.tests.base import GuiTest
    GuiTest.setUpClass()  # the one QApplication
    return workflow.widget_registry()


@pytest.fixture
def run(registry):
    """Load a workflow by name, run it, check no widget shows an error; disposed after."""
    schemes = []

    def load(name):
        scheme = workflow.load_scheme(os.path.join(FOLDER, f"{name}.ows"), registry)
        schemes.append(scheme)
        workflow.run_until_settled(scheme)
        assert workflow.messages(scheme, ("error",)) == []
        return scheme

    yield load
    for scheme in schemes:
        workflow.dispose(scheme)


def image_files(folder):
    return sorted(os.path.relpath(p, folder) for p in glob.glob(os.path.join(folder, "**", "*.*"),
                                                                 recursive=True))


def gps_of(data):
    """The GPS positions in the EXIF of the photos of ``data`` (as Import Images gave them)."""
    from orangecontrib.geophoto.exif import read_geotag
    from orangecontrib.geophoto.tables import find_image_column, image_paths
    paths = image_paths(data, find_image_column(data))
    return np.array([[tag.latitude, tag.longitude] for tag in map(read_geotag, paths)])


def test_every_scenario_ships_as_a_workflow():
    assert [os.path.basename(p)[:-4] for p in WORKFLOWS] == EXPECTED


def test_examples_are_registered_for_help_examples():
    from importlib.metadata import entry_points
    from Orange.canvas.config import Config
    (tutorials,) = [ep for ep in entry_points(group="orange.widgets.tutorials")
                    if ep.value == "orangecontrib.geophoto.tutorials"]
    module = tutorials.load()
    shipped = sorted(f[:-4] for f in os.listdir(os.path.dirname(module.__file__))
                     if f.endswith(".ows"))
    assert shipped == EXPECTED
    assert any(ep.value == "orangecontrib.geophoto.tutorials"
               for ep in Config.examples_entry_points())  # Help -> Example Workflows


@pytest.mark.parametrize("path", WORKFLOWS, ids=os.path.basename)
def test_workflow_runs_and_every_geophoto_widget_computes(run, path):
    scheme = run(os.path.basename(path)[:-4])
    widgets = workflow.widgets(scheme)
    geophoto = [w for w in widgets if type(w).__module__.startswith("orangecontrib.geophoto")]
    assert geophoto, "the example uses no geophoto widget"
    idle = [type(w).__name__ for w in geophoto if hasattr(w, "result") and w.result is None]
    assert idle == []
    # the title and description a user reads under Help -> Example Workflows
    assert len(scheme.description) > 40 and scheme.title == TITLES[os.path.basename(path)]


@pytest.mark.parametrize("path", WORKFLOWS, ids=os.path.basename)
def test_settings_survive_save_and_reload(run, registry, path):
    scheme = run(os.path.basename(path)[:-4])
    before = {node.title: _settings(scheme.widget_for_node(node)) for node in scheme.nodes}
    reopened = workflow.reload_scheme(scheme, registry)
    try:
        workflow.run_until_settled(reopened)
        assert workflow.messages(reopened, ("error",)) == []
        after = {node.title: _settings(reopened.widget_for_node(node))
                 for node in reopened.nodes}
        for title, settings in before.items():
            assert after[title] == settings, title
    finally:
        workflow.dispose(reopened)


def _settings(widget):
    """A widget's settings as saved in a workflow, comparable: contexts by their values,
    window geometry left out."""
    packed = widget.settingsHandler.pack_data(widget)
    packed.pop("savedWidgetGeometry", None)
    packed.pop("controlAreaVisible", None)
    contexts = packed.pop("context_settings", [])
    packed["contexts"] = [repr(sorted(c.values.items())) for c in contexts]
    return {k: repr(v) for k, v in packed.items()}


def test_workshop_clustering(run, tmp_path):
    from sklearn.metrics import adjusted_rand_score
    scheme = run("workshop-clustering")
    clustered = workflow.output_value(scheme, "Hierarchical Clustering", "Selected Data")
    assert len(clustered) == 32
    clusters = clustered.get_column("Cluster")
    assert len(np.unique(clusters)) == 4
    # photos of the same place mostly land in the same cluster (chance gives 0)
    assert adjusted_rand_score(clustered.get_column("category"), clusters) > 0.3
    targeted = workflow.output_value(scheme, "Select Columns (cluster as target)", "Data")
    assert targeted.domain.class_var.name == "Cluster"
    # a folder per cluster, every photo saved once
    save_images = workflow.widget_by_title(scheme, "Save Images (a folder per cluster)")
    save_images.dirname = str(tmp_path / "clusters")
    save_images.save_file()
    workflow.wait_for_widget(save_images)
    saved = image_files(tmp_path / "clusters")
    assert len(saved) == 32
    assert {os.path.dirname(p) for p in saved} == set(targeted.domain.class_var.values)
    # the embeddings and clusters, for a spreadsheet or a later session
    from Orange.data import Table
    save_data = workflow.widget_by_title(scheme, "Save Data")
    save_data.filename = str(tmp_path / "clusters.tab")
    save_data.do_save()
    saved_table = Table(str(tmp_path / "clusters.tab"))
    assert len(saved_table) == 32 and "Cluster" in saved_table.domain


def test_lobe_style_classification(run, tmp_path):
    from Orange.widgets.evaluate.owtestandscore import OWTestAndScore
    scheme = run("lobe-style-classification")
    test = workflow.widget_by_title(scheme, "Test and Score")
    assert test.resampling == OWTestAndScore.ShuffleSplit
    assert OWTestAndScore.SampleSizes[test.sample_size] == 80
    results = workflow.output_value(scheme, "Test and Score", "Evaluation Results")
    accuracy = np.mean(results.actual == results.predicted[0])
    assert accuracy > 0.6  # four places: chance is 0.25
    predictions = workflow.output_value(scheme, "Predictions", "Predictions")
    predicted = predictions.domain["Logistic Regression"]
    assert len(predictions) == 5 and predicted.values == results.domain.class_var.values
    # a new photo is named after the place of the nearest training photo (by its GPS)
    training = workflow.output_value(scheme, "Local Embedder", "Embeddings")
    train_gps, new_gps = gps_of(training), gps_of(predictions)
    located = np.isfinite(new_gps).all(1)
    assert located.sum() == 4
    nearest = [np.argmin(np.abs(train_gps - g).sum(1)) for g in new_gps[located]]
    truth = [training.domain.class_var.values[int(training.Y[i])] for i in nearest]
    named = [predicted.values[int(v)] for v in predictions.get_column(predicted)[located]]
    assert sum(a == b for a, b in zip(truth, named)) >= 3
    # Save Images sorts the new photos into a folder per predicted place
    save_images = workflow.widget_by_title(scheme, "Save Images (a folder per place)")
    save_images.dirname = str(tmp_path / "sorted")
    save_images.save_file()
    workflow.wait_for_widget(save_images)
    saved = image_files(tmp_path / "sorted")
    assert len(saved) == 5 and {os.path.dirname(p) for p in saved} <= set(predicted.values)


def test_photos_to_google_earth(run, tmp_path):
    import pyogrio
    scheme = run("photos-to-google-earth")
    geocoded = workflow.output_value(scheme, "Reverse Geocode", "Data")
    places = [str(v) for v in geocoded.get_column("place")]
    assert places.count("Venice") == 8 and len(places) == 9  # one photo has no GPS
    labels = workflow.output_value(scheme, "Local Embedder", "Labels")
    assert len(labels) == 9
    export = workflow.widget_by_title(scheme, "KML Export")
    export.filename = str(tmp_path / "venice.kmz")
    export.do_save()
    workflow.wait_for_widget(export)
    frame = pyogrio.read_dataframe(str(tmp_path / "venice.kmz"))
    assert len(frame) == 8  # the photo without GPS is reported, not placed


def test_where_was_it_taken(run):
    scheme = run("where-was-it-taken")
    predictions = workflow.output_value(scheme, "Geo Classifier", "Predictions")
    assert len(predictions) == 5
    assert np.isfinite(predictions.get_column("latitude (predicted)")).all()
    errors = predictions.get_column("error (m)")
    assert np.isfinite(errors).sum() == 4  # one new photo has no GPS to compare with
    assert np.nanmedian(errors) < 1000
    evaluation = workflow.output_value(scheme, "Geo Classifier", "Evaluation")
    metrics = list(evaluation.get_column("metric"))
    assert {"mean error (m)", "within 1 km", "within 25 km", "within 2500 km"} <= set(metrics)
    predicted_map = workflow.widget_by_title(scheme, "Geo Map (predicted)")
    true_map = workflow.widget_by_title(scheme, "Geo Map (true position)")
    assert predicted_map.attr_lat.name == "latitude (predicted)"
    assert true_map.attr_lat.name == "latitude"
    assert predicted_map.attr_color.name == true_map.attr_color.name == "error (m)"
    # the verified method: Image Viewer shows the training photo that confirmed the place
    assert (predictions.get_column("verified") == 1).any()
    viewer = workflow.widget_by_title(scheme, "Image Viewer (verified match)")
    assert viewer.image_attr.name == "matched photo"


def test_places_and_recommendations(run):
    scheme = run("places-and-recommendations")
    ranking = workflow.output_value(scheme, "Geo Classifier", "Place Ranking")
    places = list(ranking.get_column("place"))
    assert sorted(places) == ["murano", "rialto", "salute", "san-marco"]
    assert set(places[:2]) == {"murano", "rialto"}  # the swiped photos liked these
    distances = workflow.output_value(scheme, "Geo Classifier", "Place Distances")
    assert distances.shape == (4, 4)
    probabilities = workflow.output_value(scheme, "Geo Classifier", "Predictions")
    assert len(probabilities) == 8 and "place (predicted)" in probabilities.domain


def test_geotag_from_a_track(registry, tmp_path):
    """Photos without GPS placed by the walk's GPX track, previewed, written into XMP
    sidecars beside the photos only on Write, and exported to Google Earth. Run on a copy
    of the example's folder: Write writes where the workflow is."""
    import json
    import shutil
    import subprocess
    import zipfile
    from orangecanvas.scheme import SchemeTextAnnotation
    from orangecontrib.geophoto.exif import read_geotag
    for name in ("walk", "photos"):
        shutil.copytree(os.path.join(FOLDER, name), tmp_path / name)
    for name in ("walk.gpx", "geotag-from-a-track.ows"):
        shutil.copy(os.path.join(FOLDER, name), tmp_path / name)
    scheme = workflow.load_scheme(str(tmp_path / "geotag-from-a-track.ows"), registry)
    try:
        workflow.run_until_settled(scheme)
        assert workflow.messages(scheme, ("error", "warning")) == []
        placed = workflow.output_value(scheme, "EXIF Geotag (GPX track)", "Data")
        assert len(placed) == 6
        source = placed.domain["position source"]
        assert {source.str_val(v) for v in placed.get_column(source)} == {"track"}
        # near where the photos were taken (the positions in the originals in photos/)
        for row in placed:
            truth = read_geotag(str(tmp_path / "photos" / str(row["image"])))
            assert abs(row["latitude"] - truth.latitude) < 5e-4
            assert abs(row["longitude"] - truth.longitude) < 5e-4
        # the note on the canvas says where the sidecars go
        (note,) = [a for a in scheme.annotations if isinstance(a, SchemeTextAnnotation)]
        assert "walk/" in note.text and "sidecar" in note.text
        # only a preview so far: nothing written
        write = workflow.widget_by_title(scheme, "Write Geotags")
        assert write.result.dry_run and write.result.summary.written == 6
        assert not list((tmp_path / "walk").glob("*.xmp"))
        write.write_button.click()
        workflow.wait_for_widget(write)
        assert not write.result.dry_run and write.result.summary.written == 6
        sidecars = sorted((tmp_path / "walk").glob("*.jpg.xmp"))
        assert len(sidecars) == 6
        if shutil.which("exiftool"):
            out = subprocess.run(["exiftool", "-json", "-n", "-GPSLatitude", "-GPSLongitude",
                                  *map(str, sidecars)], capture_output=True, text=True,
                                 timeout=120, check=True)
            read = {os.path.basename(r["SourceFile"])[:-4]: (r["GPSLatitude"],
                                                             r["GPSLongitude"])
                    for r in json.loads(out.stdout)}
            for row in placed:
                np.testing.assert_allclose(read[str(row["image"])],
                                           (row["latitude"], row["longitude"]), atol=1e-7)
        workflow.run_until_settled(scheme)
        export = workflow.widget_by_title(scheme, "KML Export")
        export.filename = str(tmp_path / "walk.kmz")
        export.do_save()
        workflow.wait_for_widget(export)
        with zipfile.ZipFile(tmp_path / "walk.kmz") as kmz:
            kml = kmz.read("doc.kml").decode("utf-8")
        assert kml.count("<Placemark") == 6 and export.summary.placemarks == 6
        status = workflow.output_value(scheme, "Write Geotags", "Data")
        var = status.domain["write status"]
        assert {var.str_val(v) for v in status.get_column(var)} == {"written"}
    finally:
        workflow.dispose(scheme)
