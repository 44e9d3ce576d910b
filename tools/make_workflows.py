"""Build the example workflows in workflows/ (run by a maintainer; the .ows files are
committed): each is laid out on a real scheme, run once on the bundled photos, configured
where a widget's choice depends on its data (which column Select Columns makes the target,
which coordinates a Geo Map shows), run again and saved. Import Images points at folders
relative to the workflow, so the examples work wherever they are installed.

    QT_QPA_PLATFORM=offscreen .venv/bin/python tools/make_workflows.py
"""
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from Orange.widgets.utils.filedialogs import RecentPath  # noqa: E402
from orangecanvas.scheme import SchemeNode, SchemeTextAnnotation  # noqa: E402
from orangecanvas.utils import name_lookup  # noqa: E402

from orangecontrib.geophoto.widgets import workflow  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FOLDER = os.path.join(ROOT, "workflows")

IMPORT = "orangecontrib.imageanalytics.widgets.owimageimport.OWImportImages"
VIEWER = "orangecontrib.imageanalytics.widgets.owimageviewer.OWImageViewer"
SAVE_IMAGES = "orangecontrib.imageanalytics.widgets.owsaveimages.OWSaveImages"
EXIF = "orangecontrib.geophoto.widgets.owexifgeotag.OWExifGeotag"
EMBED = "orangecontrib.geophoto.widgets.owlocalembedder.OWLocalEmbedder"
GEOCLS = "orangecontrib.geophoto.widgets.owgeoclassifier.OWGeoClassifier"
GEOCODE = "orangecontrib.geophoto.widgets.owreversegeocode.OWReverseGeocode"
KML = "orangecontrib.geophoto.widgets.owkmlexport.OWKMLExport"
WRITE = "orangecontrib.geophoto.widgets.owwritegeotags.OWWriteGeotags"
GEOMAP = "orangecontrib.geo.widgets.owmap.OWMap"
TABLE = "Orange.widgets.data.owtable.OWTable"
SELECT = "Orange.widgets.data.owselectcolumns.OWSelectAttributes"
SAVE_DATA = "Orange.widgets.data.owsave.OWSave"
DISTANCES = "Orange.widgets.unsupervised.owdistances.OWDistances"
CLUSTERING = "Orange.widgets.unsupervised.owhierarchicalclustering.OWHierarchicalClustering"
LOGREG = "Orange.widgets.model.owlogisticregression.OWLogisticRegression"
TEST = "Orange.widgets.evaluate.owtestandscore.OWTestAndScore"
CONFUSION = "Orange.widgets.evaluate.owconfusionmatrix.OWConfusionMatrix"
PREDICTIONS = "Orange.widgets.evaluate.owpredictions.OWPredictions"

FIRE9 = {"squeezenet_layer": 1}  # fire9: better than pool10 for retrieval and places
COSINE = {"metric_id": 4}        # Orange.widgets.unsupervised.owdistances.Cosine
TOP_4_CLUSTERS = {"selection_method": 2, "top_n": 4}  # Ward linkage (the default)
RANDOM_80_20 = {"resampling": 2, "sample_size": 12, "n_repeats": 3}  # 10 x 80% / 20%
# relative to the workflow, as Import Images' folder (EXIF Geotag resolves it so)
WALK_TRACK = {"use_track": True, "gpx_path": "walk.gpx"}


def folder(name):
    return {"recent_paths": [RecentPath.create(os.path.join(FOLDER, name),
                                               [("basedir", FOLDER)])]}


def make_target(name):
    """Select Columns: the column ``name`` becomes the target (Save Images makes one
    folder per target value); the former target moves to the metas."""
    def configure(widget):
        var = widget.data.domain[name]
        for model in (widget.used_attrs, widget.meta_attrs, widget.available_attrs):
            if var in model:
                del model[list(model).index(var)]
        widget.meta_attrs.extend(v for v in widget.class_attrs if v is not var)
        widget.class_attrs[:] = [var]
        widget.commit.now()
    return configure


def show_coordinates(lat, lon, color):
    def configure(widget):
        domain = widget.data.domain
        widget.attr_lat, widget.attr_lon = domain[lat], domain[lon]
        widget.attr_color = domain[color]
        widget.setup_plot()
    return configure


def show_images(image, title):
    def configure(widget):
        domain = widget.data.domain
        widget.image_attr, widget.title_attr = domain[image], domain[title]
        widget.clearModel()
        widget.setupModel()
    return configure


# as Help -> Example Workflows lists them
TITLES = {
    "workshop-clustering": "Workshop clustering",
    "lobe-style-classification": "Supervised classification, Lobe-style",
    "photos-to-google-earth": "Photos to Google Earth",
    "where-was-it-taken": "Where was it taken?",
    "places-and-recommendations": "City recognition and recommendations",
    "geotag-from-a-track": "Geotag photos from a GPS track",
}

WORKFLOWS = {
    "workshop-clustering": (
        "Workshop clustering: which photos look alike? Photos of four Venice places are "
        "embedded locally, compared by cosine distance and clustered; Save Images writes a "
        "folder per cluster, Save Data the embeddings with their clusters.",
        [(IMPORT, "Import Images", (100, 240), folder("places")),
         (EMBED, "Local Embedder", (320, 240), FIRE9),
         (DISTANCES, "Distances", (540, 240), COSINE),
         (CLUSTERING, "Hierarchical Clustering", (760, 240), TOP_4_CLUSTERS),
         (VIEWER, "Image Viewer", (980, 100), {}),
         (SELECT, "Select Columns (cluster as target)", (980, 240), {}),
         (SAVE_IMAGES, "Save Images (a folder per cluster)", (1200, 240), {}),
         (SAVE_DATA, "Save Data", (980, 380), {})],
        [(0, "Data", 1, "Images"), (1, "Embeddings", 2, "Data"),
         (2, "Distances", 3, "Distances"), (3, "Selected Data", 4, "Data"),
         (3, "Selected Data", 5, "Data"), (5, "Data", 6, "Data"),
         (3, "Selected Data", 7, "Data")],
        {"Select Columns (cluster as target)": make_target("Cluster")},
        ("Select a branch of the dendrogram to see its photos in Image Viewer. Choose a folder "
         "in Save Images to get a folder per cluster (C1-C4), and a file in Save Data for the "
         "embeddings with their clusters. Point Import Images at your own photos to repeat it.",
         (100, 480, 660, 90))),
    "lobe-style-classification": (
        "Supervised classification, Lobe-style: photos in a folder per place train a "
        "logistic regression on local embeddings; Test & Score estimates its accuracy "
        "(random 80/20 splits); Predictions names the places of new photos and Save Images "
        "sorts them into a folder per predicted place.",
        [(IMPORT, "Import Images (a folder per place)", (100, 170), folder("places")),
         (EMBED, "Local Embedder", (320, 170), FIRE9),
         (LOGREG, "Logistic Regression", (540, 30), {}),
         (TEST, "Test and Score", (760, 170), RANDOM_80_20),
         (CONFUSION, "Confusion Matrix", (980, 170), {}),
         (IMPORT, "Import Images (new photos)", (100, 380), folder("new-photos")),
         (EMBED, "Local Embedder (new photos)", (320, 380), FIRE9),
         (PREDICTIONS, "Predictions", (760, 380), {}),
         (SELECT, "Select Columns (prediction as target)", (980, 380), {}),
         (SAVE_IMAGES, "Save Images (a folder per place)", (1200, 380), {})],
        [(0, "Data", 1, "Images"), (1, "Embeddings", 2, "Data"), (1, "Embeddings", 3, "Data"),
         (2, "Learner", 3, "Learner"), (3, "Evaluation Results", 4, "Evaluation Results"),
         (5, "Data", 6, "Images"), (6, "Embeddings", 7, "Data"), (2, "Model", 7, "Predictors"),
         (7, "Predictions", 8, "Data"), (8, "Data", 9, "Data")],
        {"Select Columns (prediction as target)": make_target("Logistic Regression")},
        ("Import Images names each photo's class after its folder. Test and Score: 10 random "
         "80/20 splits. Choose a folder in Save Images to sort the new photos into a folder "
         "per predicted place. A model trained in Lobe works too: Local Embedder, Custom "
         "model.",
         (100, 480, 660, 90))),
    "photos-to-google-earth": (
        "Photos to Google Earth: read where and when each photo was taken, name its place "
        "offline, label what it shows, and export a KMZ with thumbnails.",
        [(IMPORT, "Import Images", (100, 100), folder("photos")),
         (EXIF, "EXIF Geotag", (320, 100), {}), (GEOCODE, "Reverse Geocode", (540, 100), {}),
         (EMBED, "Local Embedder", (760, 100), FIRE9), (KML, "KML Export", (980, 100), {}),
         (GEOMAP, "Geo Map", (540, 310), {}), (TABLE, "Data Table", (980, 310), {})],
        [(0, "Data", 1, "Data"), (1, "Data", 2, "Data"), (2, "Data", 3, "Images"),
         (3, "Labels", 4, "Data"), (1, "Data", 5, "Data"), (3, "Labels", 6, "Data")],
        {},
        ("Choose a file in KML Export (.kmz keeps the thumbnails) and open it in Google Earth: "
         "each photo where it was taken, named after what it shows and its place, on Google "
         "Earth's time slider. The photo without GPS is counted, not placed.",
         (100, 430, 660, 90))),
    "where-was-it-taken": (
        "Where was it taken? Geo Classifier learns from geotagged photos where photos are "
        "taken and predicts it for new ones, with a 68% radius; two maps show the new photos "
        "where they were predicted and where they really were, coloured by the error; the "
        "evaluation table gives the cross-validated km-threshold scores.",
        [(IMPORT, "Import Images (geotagged)", (100, 100), folder("places")),
         (EXIF, "EXIF Geotag", (320, 100), {}),
         (EMBED, "Local Embedder", (540, 100), FIRE9),
         (IMPORT, "Import Images (new photos)", (100, 310), folder("new-photos")),
         (EXIF, "EXIF Geotag (new photos)", (320, 310), {}),
         (EMBED, "Local Embedder (new photos)", (540, 310), FIRE9),
         (GEOCLS, "Geo Classifier", (760, 205), {"method": 5}),
         (GEOMAP, "Geo Map (predicted)", (1000, 20), {}),
         (GEOMAP, "Geo Map (true position)", (1000, 135), {}),
         (TABLE, "Predictions", (1000, 250), {}),
         (TABLE, "Evaluation", (1000, 480), {}),
         (VIEWER, "Image Viewer (verified match)", (1000, 365), {})],
        [(0, "Data", 1, "Data"), (1, "Geotagged", 2, "Images"), (3, "Data", 4, "Data"),
         (4, "Data", 5, "Images"), (2, "Embeddings", 6, "Data"), (5, "Embeddings", 6, "Photos"),
         (6, "Predictions", 7, "Data"), (6, "Predictions", 8, "Data"),
         (6, "Predictions", 9, "Data"), (6, "Evaluation", 10, "Data"),
         (6, "Predictions", 11, "Data")],
        {"Geo Map (predicted)": show_coordinates(
            "latitude (predicted)", "longitude (predicted)", "error (m)"),
         "Geo Map (true position)": show_coordinates("latitude", "longitude", "error (m)"),
         "Image Viewer (verified match)": show_images("matched photo", "image")},
        ("Geo Classifier learns from the geotagged photos where photos are taken (neighbours "
         "verified by local features) and predicts it for the new ones, even the one without "
         "GPS. The maps show the new photos where predicted and where they really were, "
         "coloured by the error; Image Viewer shows the training photo that confirmed each "
         "verified place, titled by the new photo.",
         (100, 480, 660, 90))),
    "places-and-recommendations": (
        "City recognition and recommendations: photos in a folder per place teach Geo "
        "Classifier (place mode) the places; it tells how alike the places look (clustered "
        "here) and ranks them by the photos a user liked or disliked (folders 'liked' and "
        "'disliked' of swiped photos).",
        [(IMPORT, "Import Images (a folder per place)", (100, 100), folder("places")),
         (EMBED, "Local Embedder", (320, 100), FIRE9),
         (IMPORT, "Import Images (swiped photos)", (100, 310), folder("swipes")),
         (EMBED, "Local Embedder (swiped photos)", (320, 310), FIRE9),
         (GEOCLS, "Geo Classifier", (540, 205), {}),
         (CLUSTERING, "Hierarchical Clustering (places)", (760, 100), {}),
         (TABLE, "Place Ranking", (760, 240), {}),
         (TABLE, "Place Probabilities", (760, 380), {})],
        [(0, "Data", 1, "Images"), (2, "Data", 3, "Images"), (1, "Embeddings", 4, "Data"),
         (3, "Embeddings", 4, "Photos"), (4, "Place Distances", 5, "Distances"),
         (4, "Place Ranking", 6, "Data"), (4, "Predictions", 7, "Data")],
        {},
        ('Places come from folder names; ratings from the folders "liked" and "disliked" of '
         "the photos a user swiped. Place Ranking lists the places to recommend; the "
         "dendrogram shows which places look alike.",
         (100, 500, 660, 90))),
    "geotag-from-a-track": (
        "Geotag photos from a GPS track: photos taken without GPS are placed on the GPS track "
        "recorded on the same walk, by their capture times; Write Geotags writes the "
        "positions into XMP sidecars beside the photos, which Lightroom, darktable, digiKam "
        "and exiftool read, and KML Export makes a Google Earth file of them.",
        [(IMPORT, "Import Images (photos without GPS)", (100, 150), folder("walk")),
         (EXIF, "EXIF Geotag (GPX track)", (320, 150), WALK_TRACK),
         (WRITE, "Write Geotags", (540, 150), {}),
         (KML, "KML Export", (760, 70), {}),
         (TABLE, "Data Table (write status)", (760, 230), {})],
        [(0, "Data", 1, "Data"), (1, "Data", 2, "Data"), (2, "Data", 3, "Data"),
         (2, "Data", 4, "Data")],
        {},
        ("EXIF Geotag places the photos of walk/ on the GPS track walk.gpx by their capture "
         "times. Write Geotags only previews until you press Write; then it writes an XMP "
         "sidecar beside each photo (venice-0.jpg.xmp...), into this example's walk/ folder, "
         "where photo tools look for them. (Import Images then lists the .xmp files too; EXIF "
         "Geotag counts them as unreadable.) For your own photos, choose their folder in "
         "Import Images and your GPX file in EXIF Geotag.",
         (100, 330, 700, 110))),
}


def build(name, description, nodes, links, configure, note, registry):
    scheme = workflow.new_scheme(FOLDER)
    scheme.title = TITLES[name]
    scheme.description = description
    made = []
    for qualified, title, position, settings in nodes:
        # settings as a loaded workflow gives them: the widget starts with them
        description = registry.widget(qualified)
        version = name_lookup(qualified).settingsHandler.widget_class.settings_version
        node = SchemeNode(description, title=title, position=position,
                          properties={**settings, "__version__": version})
        scheme.add_node(node)
        made.append(node)
    for source, out, sink, inp in links:
        scheme.new_link(made[source], out, made[sink], inp)
    text, rect = note  # what to do next, on the canvas beside the widgets
    scheme.add_annotation(SchemeTextAnnotation(rect, text))
    workflow.run_until_settled(scheme)
    for title, step in configure.items():
        step(workflow.widget_by_title(scheme, title))
    workflow.run_until_settled(scheme)
    problems = workflow.messages(scheme, ("error",))
    if problems:
        raise RuntimeError(f"{name}: {problems}")
    scheme.sync_node_properties()
    path = os.path.join(FOLDER, f"{name}.ows")
    with open(path, "wb") as f:
        scheme.save_to(f, pretty=True, pickle_fallback=True)
    workflow.dispose(scheme)
    print(path, file=sys.stderr)


def main(names=()):
    workflow.isolate_widget_settings()  # the files must not depend on this machine's defaults
    app = workflow.ensure_application()  # noqa: F841
    registry = workflow.widget_registry()
    for name, (description, nodes, links, configure, note) in WORKFLOWS.items():
        if not names or name in names:
            build(name, description, nodes, links, configure, note, registry)


if __name__ == "__main__":
    main(sys.argv[1:])
