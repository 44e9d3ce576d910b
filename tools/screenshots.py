"""Screenshots of each widget with the sample photos, for doc/widgets/images (run by a
maintainer, offscreen)."""
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from AnyQt.QtWidgets import QApplication  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "doc", "widgets", "images")


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


def main():
    app = QApplication.instance() or QApplication([])
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


if __name__ == "__main__":
    main()
