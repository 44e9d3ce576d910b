"""Local Embedder as a workshop meets it: Cancel and progress, messages that fit the window,
Info that follows the last run, the labels it found (issue 11)."""
import concurrent.futures
import os
import socket
import tempfile

from AnyQt.QtCore import Qt
from AnyQt.QtWidgets import QApplication, QLabel, QStyle, QStyleOptionComboBox
from Orange.data import ContinuousVariable, Domain, Table
from Orange.widgets.tests.base import WidgetTest

import numpy as np

from orangecontrib.geophoto.embedders import BUILTIN
from orangecontrib.geophoto.progress import Cancelled
from orangecontrib.geophoto.tables import table_from_paths
from orangecontrib.geophoto.widgets.common import Progress, progress_text
from orangecontrib.geophoto.widgets.owlocalembedder import MODEL_KEYS, OWLocalEmbedder
from tests.conftest import VENICE, venice_or_skip


def venice_photos(n):
    venice_or_skip()
    return table_from_paths([os.path.join(VENICE, "images", f"{i}.jpg") for i in range(n)])


def message_fits(test: WidgetTest, widget) -> bool:
    """The message bar shows its (first-line) text uncut at the widget's current size,
    as the status bar lays it out."""
    for _ in range(5):
        QApplication.processEvents()
    bar = widget.message_bar
    test.assertTrue(bar.isVisible(), "no message shown")
    full = "".join(bar.message.text)  # a plain str: the message is a str subclass whose == differs
    label = next(lab for lab in bar.findChildren(QLabel) if lab.text())
    return label.text() == full, f"{full!r} shown as {label.text()!r} in {label.width()} px"


def own_messages(widget):
    """(name, bound message) of every message the widget's class defines."""
    from orangewidget.utils.messages import UnboundMsg
    for group_name in ("Error", "Warning", "Information"):
        group = getattr(widget, group_name)
        for name, value in vars(getattr(type(widget), group_name)).items():
            if isinstance(value, UnboundMsg):
                yield name, getattr(group, name)


def closed_port_url():
    """A URL on 127.0.0.1 nobody listens on: a download from it fails at once, offline."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


class EmbedderTest(WidgetTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._cache = os.environ.get("GEOPHOTO_CACHE_DIR")

    @classmethod
    def tearDownClass(cls):
        if cls._cache is None:
            os.environ.pop("GEOPHOTO_CACHE_DIR", None)
        else:
            os.environ["GEOPHOTO_CACHE_DIR"] = cls._cache
        super().tearDownClass()

    def setUp(self):
        # a fresh, empty cache: every run really decodes and embeds its photos
        self.cache_dir = tempfile.TemporaryDirectory()
        os.environ["GEOPHOTO_CACHE_DIR"] = self.cache_dir.name
        self.widget = self.create_widget(OWLocalEmbedder)

    def tearDown(self):
        self.widget.shutdown()
        self.cache_dir.cleanup()
        super().tearDown()

    def wait_for_progress(self, n):
        """Until the Info box counts photos: the run is embedding, not loading."""
        self.process_events(until=lambda: f"of {n:,} photos" in self.widget.info_label.text(),
                            timeout=120_000)


class TestCancelAndProgress(EmbedderTest):
    def test_cancel_stops_the_run_and_sends_nothing(self):
        data = venice_photos(200)
        self.assertFalse(self.widget.cancel_button.isEnabled())
        self.send_signal(self.widget.Inputs.data, data)
        self.assertTrue(self.widget.cancel_button.isEnabled())
        self.wait_for_progress(200)
        task = self.widget.task
        self.widget.cancel_button.click()
        # the worker stops at its next check instead of embedding the rest
        concurrent.futures.wait([task.future], timeout=120)
        self.assertTrue(task.future.done())
        self.assertIsInstance(task.future.exception(), Cancelled)
        self.process_events()
        self.assertIsNone(self.widget.task)
        self.assertFalse(self.widget.cancel_button.isEnabled())
        self.assertIn("Cancelled", self.widget.info_label.text())
        for output in (self.widget.Outputs.embeddings, self.widget.Outputs.labels,
                       self.widget.Outputs.skipped):
            self.assertIsNone(self.get_output(output))
        self.assertFalse(self.widget.Error.active)

    def test_unticking_apply_automatically_stops_the_run(self):
        self.send_signal(self.widget.Inputs.data, venice_photos(200))
        self.wait_for_progress(200)
        task = self.widget.task
        self.widget.controls.auto_apply.click()   # the user unticks it
        self.assertFalse(self.widget.auto_apply)
        concurrent.futures.wait([task.future], timeout=120)
        self.assertIsInstance(task.future.exception(), Cancelled)
        self.assertIsNone(self.widget.task)
        self.assertIn("Apply Automatically was turned off", self.widget.info_label.text())
        self.assertIsNone(self.get_output(self.widget.Outputs.embeddings))
        # Apply is enabled and runs it again
        self.assertTrue(self.widget.apply_box.button.isEnabled())
        self.widget.apply_box.button.click()
        self.assertIsNotNone(self.widget.task)
        self.widget.cancel_button.click()
        self.assertIn("Press Apply", self.widget.info_label.text())

    def test_progress_in_words(self):
        self.assertEqual(progress_text(Progress("Embedding", 0.52, 1234, 2387, 40.2)),
                         "1,234 of 2,387 photos, about 40 s left")
        self.assertEqual(progress_text(Progress("Training", 0.4, seconds_left=200)),
                         "Training: 40%, about 3 min left")
        self.assertEqual(progress_text(Progress("Embedding", 0.01, 1, 2387)),
                         "1 of 2,387 photos")
        self.assertEqual(progress_text(Progress("Training", 0)), "Training…")
        self.assertEqual(progress_text(Progress("Training", 0.1, seconds_left=3900)),
                         "Training: 10%, about 1 h 5 min left")


class TestMessagesAndInfo(EmbedderTest):
    def setUp(self):
        super().setUp()
        self.widget.show()   # at its default size, as a canvas opens it

    def tearDown(self):
        self.widget.hide()
        super().tearDown()

    def assert_fits(self):
        fits, text = message_fits(self, self.widget)
        self.assertTrue(fits, f"cut in a {self.widget.width()} px window: {text!r}")

    def run_with(self, data, model_key, path=""):
        self.widget.model_index = MODEL_KEYS.index(model_key)
        self.widget._update_model_controls()
        self.widget.custom_path = path
        self.send_signal(self.widget.Inputs.data, data)
        self.wait_until_finished(timeout=120_000)

    def test_offline_resnet50_error_fits(self):
        from orangecontrib.geophoto.embedders import keras_apps
        keras_home = tempfile.TemporaryDirectory()
        old = os.environ.get("KERAS_HOME"), keras_apps.BASE_URL
        os.environ["KERAS_HOME"] = keras_home.name    # no weights here
        keras_apps.BASE_URL = closed_port_url()        # and no internet
        try:
            self.run_with(venice_photos(2), "resnet50")
        finally:
            keras_apps.BASE_URL = old[1]
            if old[0] is None:
                os.environ.pop("KERAS_HOME")
            else:
                os.environ["KERAS_HOME"] = old[0]
            keras_home.cleanup()
        self.assertTrue(self.widget.Error.model.is_shown())
        self.assert_fits()
        details = str(self.widget.Error.model)  # the rest: which file, from where, to where
        self.assertIn("resnet50_weights_tf_dim_ordering_tf_kernels.h5", details)
        self.assertIn(os.path.join(keras_home.name, "models"), details)

    def test_custom_model_errors_fit(self):
        data = venice_photos(2)
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        cases = {"": self.widget.Error.no_custom_model,
                 os.path.join(folder.name, "nowhere", "my model.keras"): self.widget.Error.model,
                 os.path.abspath(__file__): self.widget.Error.model,    # not a model
                 folder.name: self.widget.Error.model}                  # not a model folder
        for path, message in cases.items():
            with self.subTest(path=path):
                self.run_with(data, "custom", path)
                self.assertTrue(message.is_shown())
                self.assert_fits()

    def test_every_message_fits_with_long_arguments(self):
        """Each message the widget has, with the longest values it gets in practice."""
        long_args = {"tensorflow": ("TensorFlow cannot be imported: ImportError: libcudart.so"
                                    ".12: cannot open shared object file",),
                     "model": ("This model cannot be used.", "details " * 30),
                     "failed": ("ResourceExhaustedError", "OOM when allocating " * 10),
                     "skipped": ("2,387", "photos")}
        for name, message in own_messages(self.widget):
            with self.subTest(message=name):
                message(*long_args.get(name, ()))
                try:
                    self.assert_fits()
                finally:
                    message.clear()

    def test_missing_model_path_says_no_such_file(self):
        path = os.path.join(tempfile.gettempdir(), "no-such-folder", "model.keras")
        self.run_with(venice_photos(2), "custom", path)
        self.assertTrue(self.widget.Error.model.is_shown())
        text = str(self.widget.Error.model)
        self.assertIn("No such model file or folder", text)
        self.assertNotIn("unknown model", text)

    def test_info_is_cleared_after_an_error(self):
        self.run_with(venice_photos(3), "squeezenet")
        self.assertIn("3 of 3 photos embedded", self.widget.info_label.text())
        self.widget.model_index = MODEL_KEYS.index("custom")
        self.widget.custom_path = ""
        self.widget.commit.now()
        self.assertTrue(self.widget.Error.no_custom_model.is_shown())
        self.assertNotIn("embedded", self.widget.info_label.text())
        self.assertIsNone(self.get_output(self.widget.Outputs.embeddings))
        self.assertFalse(self.widget.Warning.skipped.is_shown())

    def test_info_shows_the_first_photos_labels(self):
        self.widget.top_k = 2
        self.run_with(venice_photos(4), "squeezenet")
        labels = self.get_output(self.widget.Outputs.labels)
        info = self.widget.info_label.text()
        self.assertIn("Top labels", info)
        for row in range(3):
            self.assertIn(f"{row}.jpg: {labels.get_column('label 1')[row]}, "
                          f"{labels.get_column('label 2')[row]}", info)

    def test_feature_layer_labels_are_not_cut(self):
        self.widget.model_index = MODEL_KEYS.index("squeezenet")
        self.widget._update_model_controls()
        QApplication.processEvents()
        combo = self.widget.controls.squeezenet_layer
        option = QStyleOptionComboBox()
        combo.initStyleOption(option)
        field = combo.style().subControlRect(QStyle.CC_ComboBox, option,
                                             QStyle.SC_ComboBoxEditField, combo)
        for i in range(combo.count()):
            text = combo.itemText(i)
            self.assertLessEqual(combo.fontMetrics().horizontalAdvance(text), field.width(),
                                 text)
            self.assertLessEqual(len(text), combo.maximumContentsLength() or len(text), text)
            self.assertTrue(combo.itemData(i, Qt.ToolTipRole))  # the layer, for experts

    def test_model_descriptions_speak_plainly(self):
        for key, spec in BUILTIN.items():
            with self.subTest(model=key):
                self.assertNotIn("seed", spec.description)
                if spec.offline:
                    self.assertIn("offline", spec.description)
                else:
                    self.assertRegex(spec.description, r"Downloads \d+ MB")


class TestNoImageColumnFits(EmbedderTest):
    def test_no_image_column(self):
        self.widget.show()
        data = Table.from_numpy(Domain([ContinuousVariable("x")]), np.zeros((2, 1)))
        self.send_signal(self.widget.Inputs.data, data)
        self.assertTrue(self.widget.Error.no_image_column.is_shown())
        fits, text = message_fits(self, self.widget)
        self.assertTrue(fits, text)
        self.widget.hide()
