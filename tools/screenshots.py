"""Screenshots for the documentation (run by a maintainer, offscreen or under Xvfb):
each widget with the sample photos (doc/widgets/images), each example workflow on the real
Orange canvas after it ran (doc/images/workflows), and the canvas window for the README.

    QT_QPA_PLATFORM=offscreen .venv/bin/python tools/screenshots.py [widgets] [workflows]
"""
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from AnyQt.QtWidgets import QApplication  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "doc", "widgets", "images")
WORKFLOW_OUT = os.path.join(ROOT, "doc", "images", "workflows")


def settle(widget, app, timeout_s=120):
    import time
    end = time.time() + timeout_s
    while getattr(widget, "task", None) is not None and time.time() < end:
        app.processEvents()
        time.sleep(0.05)
    for _ in range(20):
        app.processEvents()


def shoot(widget, app, name):
    widget.show()
    settle(widget, app)
    widget.adjustSize()
    app.processEvents()
    widget.grab().save(os.path.join(OUT, f"{name}.png"))
    print(name, file=sys.stderr)


def render_scene(scene, path, margin=20):
    """The whole workflow (not only what the window shows), on white, as the canvas draws it."""
    from AnyQt.QtCore import QRectF, Qt
    from AnyQt.QtGui import QImage, QPainter
    source = scene.itemsBoundingRect().adjusted(-margin, -margin, margin, margin)
    image = QImage(int(source.width()), int(source.height()), QImage.Format_ARGB32)
    image.fill(Qt.white)
    painter = QPainter(image)
    painter.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
    scene.render(painter, QRectF(image.rect()), source)
    painter.end()
    image.save(path)


def shoot_workflows(app):
    """Each example on the canvas, as Help -> Examples opens it, after its widgets ran."""
    import glob
    from orangecanvas import config as canvas_config
    from Orange.canvas.config import Config
    from Orange.canvas.mainwindow import MainWindow
    from orangecontrib.geophoto import workflow
    canvas_config.set_default(Config())
    registry = workflow.widget_registry()
    os.makedirs(WORKFLOW_OUT, exist_ok=True)
    for path in sorted(glob.glob(os.path.join(ROOT, "workflows", "*.ows"))):
        name = os.path.basename(path)[:-4]
        window = MainWindow()
        window.set_widget_registry(registry)
        window.resize(1500, 820)
        window.show()
        window.load_scheme(path)
        document = window.current_document()
        workflow.run_until_settled(document.scheme())
        document.scene().clearSelection()
        app.processEvents()
        render_scene(document.scene(), os.path.join(WORKFLOW_OUT, f"{name}.png"))
        if name == "photos-to-google-earth":  # the README's tour: the whole window
            window.grab().save(os.path.join(ROOT, "doc", "images", "canvas.png"))
        print(name, file=sys.stderr)
        document.setModified(False)  # no "save changes?" dialog on close
        window.close()


def shoot_widgets(app):
    from orangecontrib.geophoto.datasets import sample_photo_paths
    from orangecontrib.geophoto.embedders import embed_table
    from orangecontrib.geophoto.exif import geotag_table
    from orangecontrib.geophoto.tables import table_from_paths
    from orangecontrib.geophoto.widgets.owexifgeotag import OWExifGeotag
    from orangecontrib.geophoto.widgets.owgeoclassifier import OWGeoClassifier
    from orangecontrib.geophoto.widgets.owkmlexport import OWKMLExport
    from orangecontrib.geophoto.widgets.owlocalembedder import OWLocalEmbedder
    from orangecontrib.geophoto.widgets.owreversegeocode import OWReverseGeocode
    photos = table_from_paths(sample_photo_paths())
    geotagged = geotag_table(photos)
    for cls, name, data in ((OWExifGeotag, "exif-geotag", photos),
                            (OWLocalEmbedder, "local-embedder", photos),
                            (OWReverseGeocode, "reverse-geocode", geotagged),
                            (OWKMLExport, "kml-export", geotagged)):
        widget = cls()
        widget.set_data(data)
        if hasattr(widget, "handleNewSignals"):
            widget.handleNewSignals()
        shoot(widget, app, name)
    embedded = embed_table(geotagged[[0, 2, 3, 4, 5, 6, 7, 8]], layer="fire9").embeddings
    widget = OWGeoClassifier()
    widget.method = 2
    widget.set_data(embedded)
    widget.handleNewSignals()
    shoot(widget, app, "geo-classifier")


def main(parts):
    from orangecontrib.geophoto import workflow
    workflow.isolate_widget_settings()
    app = QApplication.instance() or QApplication([])
    if not parts or "widgets" in parts:
        shoot_widgets(app)
    if not parts or "workflows" in parts:
        shoot_workflows(app)


if __name__ == "__main__":
    main(sys.argv[1:])
