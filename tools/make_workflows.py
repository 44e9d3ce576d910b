"""Build the example workflows in workflows/ on an offscreen canvas scheme (run by a
maintainer; the .ows files are committed). Import Images points at workflows/photos
relative to the workflow, so the examples work wherever they are installed."""
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from AnyQt.QtWidgets import QApplication  # noqa: E402
from Orange.canvas.config import Config  # noqa: E402
from Orange.widgets.utils.filedialogs import RecentPath  # noqa: E402
from orangecanvas.registry import WidgetRegistry  # noqa: E402
from orangewidget.workflow.widgetsscheme import WidgetsScheme  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FOLDER = os.path.join(ROOT, "workflows")
PHOTOS = os.path.join(FOLDER, "photos")

IMPORT = "orangecontrib.imageanalytics.widgets.owimageimport.OWImportImages"
EXIF = "orangecontrib.geophoto.widgets.owexifgeotag.OWExifGeotag"
EMBED = "orangecontrib.geophoto.widgets.owlocalembedder.OWLocalEmbedder"
GEOCLS = "orangecontrib.geophoto.widgets.owgeoclassifier.OWGeoClassifier"
GEOCODE = "orangecontrib.geophoto.widgets.owreversegeocode.OWReverseGeocode"
KML = "orangecontrib.geophoto.widgets.owkmlexport.OWKMLExport"
GEOMAP = "orangecontrib.geo.widgets.owmap.OWMap"
TABLE = "Orange.widgets.data.owtable.OWTable"
DISTANCES = "Orange.widgets.unsupervised.owdistances.OWDistances"
CLUSTERING = "Orange.widgets.unsupervised.owhierarchicalclustering.OWHierarchicalClustering"
VIEWER = "orangecontrib.imageanalytics.widgets.owimageviewer.OWImageViewer"

WORKFLOWS = {
    "photos-to-google-earth": (
        "Photos to Google Earth: read where and when each photo was taken, name its place "
        "offline, label what it shows, and export a KMZ with thumbnails.",
        [(IMPORT, "Import Images", (0, 0)), (EXIF, "EXIF Geotag", (160, 0)),
         (GEOCODE, "Reverse Geocode", (320, 0)), (EMBED, "Local Embedder", (480, 0)),
         (KML, "KML Export", (640, 0)), (GEOMAP, "Geo Map", (320, 150)),
         (TABLE, "Data Table", (640, 150))],
        [(0, "Data", 1, "Data"), (1, "Data", 2, "Data"), (2, "Data", 3, "Images"),
         (3, "Labels", 4, "Data"), (1, "Data", 5, "Data"), (3, "Labels", 6, "Data")]),
    "similar-photos": (
        "Which photos look alike: local embeddings, distances and hierarchical clustering.",
        [(IMPORT, "Import Images", (0, 0)), (EMBED, "Local Embedder", (160, 0)),
         (DISTANCES, "Distances", (320, 0)), (CLUSTERING, "Hierarchical Clustering", (480, 0)),
         (VIEWER, "Image Viewer", (640, 0))],
        [(0, "Data", 1, "Images"), (1, "Embeddings", 2, "Data"),
         (2, "Distances", 3, "Distances"), (3, "Selected Data", 4, "Data")]),
    "where-was-it-taken": (
        "Where was an untagged photo taken: learn from the geotagged photos, predict for the "
        "rest, with a 68% radius.",
        [(IMPORT, "Import Images", (0, 75)), (EXIF, "EXIF Geotag", (160, 75)),
         (EMBED, "Local Embedder (geotagged)", (320, 0)),
         (EMBED, "Local Embedder (untagged)", (320, 150)),
         (GEOCLS, "Geo Classifier", (480, 75)), (TABLE, "Data Table", (640, 75))],
        [(0, "Data", 1, "Data"), (1, "Geotagged", 2, "Images"),
         (1, "Without Location", 3, "Images"), (2, "Embeddings", 4, "Data"),
         (3, "Embeddings", 4, "Photos"), (4, "Predictions", 5, "Data")]),
}


def build(name, description, nodes, links, registry):
    scheme = WidgetsScheme()
    scheme.title, scheme.description = name.replace("-", " ").capitalize(), description
    scheme.set_runtime_env("basedir", FOLDER)
    made = []
    for qualified, title, position in nodes:
        node = scheme.new_node(registry.widget(qualified), title=title, position=position)
        made.append(node)
        widget = scheme.widget_for_node(node)
        if qualified == IMPORT:
            widget.recent_paths = [RecentPath.create(PHOTOS, [("basedir", FOLDER)])]
        if qualified == EMBED:
            widget.squeezenet_layer = 1  # fire9: better for retrieval and geolocation
        if qualified == GEOCLS:
            widget.method = 2
    for source, out, sink, inp in links:
        scheme.new_link(made[source], out, made[sink], inp)
    scheme.sync_node_properties()
    path = os.path.join(FOLDER, f"{name}.ows")
    with open(path, "wb") as f:
        scheme.save_to(f, pretty=True, pickle_fallback=True)
    scheme.clear()
    print(path, file=sys.stderr)


def main():
    app = QApplication.instance() or QApplication([])  # noqa: F841
    registry = WidgetRegistry()
    Config.widget_discovery(registry).run(Config.widgets_entry_points())
    for name, (description, nodes, links) in WORKFLOWS.items():
        build(name, description, nodes, links, registry)


if __name__ == "__main__":
    main()
