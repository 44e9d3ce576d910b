"""Screenshots for the documentation, taken from the real widgets and the real canvas after
the example workflows ran on the bundled photos (run by a maintainer; the PNGs are
committed). Take them under Xvfb to see what a user sees:

    QT_QPA_PLATFORM=xcb QT_XCB_GL_INTEGRATION=none xvfb-run -a -s "-screen 0 1600x1000x24" \\
        .venv/bin/python tools/screenshots.py [widgets] [workflows] [WORKFLOW-NAME ...]

(names of example workflows, e.g. geotag-from-a-track, limit it to those.)

- doc/widgets/images/<widget>.png: each geophoto widget as its example workflow shows it;
- doc/images/workflows/<workflow>.png: each example workflow on the canvas;
- doc/images/canvas.png: the canvas window with "Photos to Google Earth", for the README.
"""
import glob
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WIDGET_OUT = os.path.join(ROOT, "doc", "widgets", "images")
WORKFLOW_OUT = os.path.join(ROOT, "doc", "images", "workflows")

# image name: (example workflow, node title)
WIDGET_SHOTS = {
    "exif-geotag": ("photos-to-google-earth", "EXIF Geotag"),
    "reverse-geocode": ("photos-to-google-earth", "Reverse Geocode"),
    "local-embedder": ("photos-to-google-earth", "Local Embedder"),
    "kml-export": ("photos-to-google-earth", "KML Export"),
    "geo-classifier": ("where-was-it-taken", "Geo Classifier"),
    "geo-classifier-places": ("places-and-recommendations", "Geo Classifier"),
    "write-geotags": ("geotag-from-a-track", "Write Geotags"),
}


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


def open_in_canvas(path, registry):
    """A canvas main window with the workflow at ``path``, after its widgets ran."""
    from Orange.canvas.mainwindow import MainWindow
    from orangecontrib.geophoto.widgets import workflow
    window = MainWindow()
    window.set_widget_registry(registry)
    window.resize(1500, 820)
    window.show()
    window.load_scheme(path)
    document = window.current_document()
    workflow.run_until_settled(document.scheme())
    document.scene().clearSelection()
    return window, document


def show_category(window, category):
    """Open the toolbox tab of ``category``, as a user's click does."""
    from AnyQt.QtWidgets import QApplication
    toolbox = window.widgets_tool_box
    for index in range(toolbox.count()):
        action = toolbox.tabAction(index)
        action.setChecked(action.text() == category)
    for _ in range(10):
        QApplication.processEvents()


def close(window, document):
    document.setModified(False)  # no "save changes?" dialog on close
    window.close()


def shoot_widget(app, widget, path):
    widget.show()
    widget.raise_()
    for _ in range(20):
        app.processEvents()
    widget.grab().save(path)
    widget.hide()


def main(args):
    parts = [a for a in args if a in ("widgets", "workflows")]
    names = [a for a in args if a not in parts]
    from AnyQt.QtWidgets import QApplication
    from orangecanvas import config as canvas_config
    from Orange.canvas.config import Config
    from orangecontrib.geophoto.widgets import workflow
    workflow.isolate_widget_settings()
    app = QApplication.instance() or QApplication([])
    canvas_config.set_default(Config())
    registry = workflow.widget_registry()
    os.makedirs(WORKFLOW_OUT, exist_ok=True)
    for path in sorted(glob.glob(os.path.join(ROOT, "workflows", "*.ows"))):
        name = os.path.basename(path)[:-4]
        if names and name not in names:
            continue
        window, document = open_in_canvas(path, registry)
        if not parts or "workflows" in parts:
            render_scene(document.scene(), os.path.join(WORKFLOW_OUT, f"{name}.png"))
            if name == "photos-to-google-earth":  # the README's tour: the whole window,
                show_category(window, "Geo Photo")  # with geophoto's widgets in the toolbox
                window.grab().save(os.path.join(ROOT, "doc", "images", "canvas.png"))
        if not parts or "widgets" in parts:
            for image, (example, title) in WIDGET_SHOTS.items():
                if example == name:
                    widget = workflow.widget_by_title(document.scheme(), title)
                    shoot_widget(app, widget, os.path.join(WIDGET_OUT, f"{image}.png"))
        print(name, file=sys.stderr)
        close(window, document)


if __name__ == "__main__":
    main(sys.argv[1:])
