"""Geo Classifier as a workshop meets it: Cancel and progress, controls that apply,
distinct defaults, Info in words, predictions first (issue 11)."""
import concurrent.futures
import os

from Orange.data import ContinuousVariable, Domain
from Orange.widgets.tests.base import WidgetTest

from orangecontrib.geophoto.embedders import embed_table
from orangecontrib.geophoto.geolocate import LAT_PRED, LON_PRED, UNCERTAINTY
from orangecontrib.geophoto.progress import Cancelled
from orangecontrib.geophoto.tables import append_columns, table_from_paths
from orangecontrib.geophoto.widgets.owgeoclassifier import OWGeoClassifier
from tests.conftest import VENICE
from tests.exif_fixtures import venice_labels
from tests.widgets.test_owgeoclassifier import _folder_table
from tests.widgets.test_owlocalembedder_ui import message_fits, own_messages


class TestOWGeoClassifierUI(WidgetTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        rows = venice_labels(n=150)
        data = table_from_paths([os.path.join(VENICE, "images", r[0]) for r in rows])
        data = append_columns(data, attributes=[
            (ContinuousVariable("latitude"), [r[1] for r in rows]),
            (ContinuousVariable("longitude"), [r[2] for r in rows])])
        cls.embedded = embed_table(data, layer="fire9", top_k=0, cache=False).embeddings
        domain = cls.embedded.domain
        cls.photos = cls.embedded[120:].transform(
            Domain(domain.attributes[2:], metas=domain.metas))
        from orangecontrib.geophoto.tutorials import __file__ as tutorials
        folder = os.path.dirname(tutorials)
        cls.places = _folder_table(os.path.join(folder, "places"))
        cls.swipes = _folder_table(os.path.join(folder, "swipes"))

    def setUp(self):
        self.widget = self.create_widget(OWGeoClassifier)

    def tearDown(self):
        self.widget.shutdown()
        super().tearDown()

    def test_cancel_cross_validation_with_progress(self):
        self.widget.method, self.widget.do_evaluate = 0, True  # auto, cross-validated: long
        self.assertFalse(self.widget.cancel_button.isEnabled())
        self.send_signal(self.widget.Inputs.data, self.embedded[:120])
        self.assertTrue(self.widget.cancel_button.isEnabled())
        self.process_events(until=lambda: "Cross-validating: " in
                            self.widget.info_label.text(), timeout=120_000)
        task = self.widget.task
        self.widget.cancel_button.click()
        concurrent.futures.wait([task.future], timeout=120)
        self.assertIsInstance(task.future.exception(), Cancelled)  # stopped, not finished
        self.process_events()
        self.assertIsNone(self.widget.task)
        self.assertFalse(self.widget.cancel_button.isEnabled())
        self.assertIn("Cancelled while cross-validating", self.widget.info_label.text())
        for output in (self.widget.Outputs.predictions, self.widget.Outputs.evaluation,
                       self.widget.Outputs.model):
            self.assertIsNone(self.get_output(output))

    def test_place_mode_disables_the_method(self):
        self.send_signal(self.widget.Inputs.data, self.embedded[:20])
        self.assertTrue(self.widget.method_box.isEnabled())
        self.assertFalse(self.widget.liked_combo.isEnabled())   # ratings rank places only
        self.send_signal(self.widget.Inputs.data, self.places)
        self.assertIsNotNone(self.widget.place_var)
        self.assertFalse(self.widget.method_box.isEnabled())
        self.assertFalse(self.widget.controls.do_evaluate.isEnabled())
        self.assertFalse(self.widget.controls.top_k.isEnabled())
        self.assertTrue(self.widget.liked_combo.isEnabled())
        self.widget.place_var = None      # the user chooses "(coordinates)"
        self.widget._place_changed()
        self.assertTrue(self.widget.method_box.isEnabled())

    def test_place_and_ratings_defaults_are_distinct(self):
        self.send_signal(self.widget.Inputs.data, self.places)
        self.send_signal(self.widget.Inputs.photos, self.swipes)
        # both inputs call their folders "category": the combo says which is which
        self.assertEqual(self.widget.controls.place_var.currentText(), "category")
        self.assertEqual(self.widget.liked_combo.currentText(), "category (Photos)")
        self.wait_until_finished(timeout=60_000)

    def test_ratings_do_not_default_to_the_place_column(self):
        # the same liked/disliked photos on both inputs: their folders are the places,
        # so they are not the ratings too
        self.send_signal(self.widget.Inputs.data, self.swipes)
        self.send_signal(self.widget.Inputs.photos, self.swipes)
        self.assertEqual(self.widget.place_var.name, "category")
        self.assertFalse(self.widget.liked_name)
        self.assertEqual(self.widget.liked_combo.currentText(), "(none)")
        self.wait_until_finished(timeout=60_000)

    def test_info_says_the_model_in_words(self):
        self.widget.method, self.widget.do_evaluate = 2, False  # nearest neighbours
        self.send_signal(self.widget.Inputs.data, self.embedded[:120])
        self.wait_until_finished(timeout=120_000)
        info = self.widget.info_label.text()
        self.assertIn("Model: Nearest neighbours", info)
        self.assertIn("most similar training photos", info)
        self.assertNotIn("{", info)
        self.assertNotIn("'k'", info)

    def test_candidates_spin_is_explained(self):
        spin = self.widget.controls.top_k
        self.assertEqual(self.widget.top_k, 0)
        self.assertEqual(spin.text(), "none")
        self.assertIn("only the best guess", spin.toolTip())

    def test_predictions_come_first(self):
        self.widget.method, self.widget.do_evaluate = 2, False
        self.send_signal(self.widget.Inputs.data, self.embedded[:120])
        self.send_signal(self.widget.Inputs.photos, self.photos)
        predictions = self.get_output(self.widget.Outputs.predictions, wait=120_000)
        names = [v.name for v in predictions.domain.attributes]
        self.assertEqual(names[:3], [LAT_PRED, LON_PRED, UNCERTAINTY])
        self.assertEqual(len(names), len(self.photos.domain.attributes) + 3)
        self.assertEqual(names[3:], [v.name for v in self.photos.domain.attributes])

    def test_place_probabilities_come_first(self):
        self.send_signal(self.widget.Inputs.data, self.places)
        self.send_signal(self.widget.Inputs.photos, self.swipes)
        predictions = self.get_output(self.widget.Outputs.predictions, wait=60_000)
        names = [v.name for v in predictions.domain.attributes]
        self.assertEqual(names[:5], ["P(murano)", "P(rialto)", "P(salute)", "P(san-marco)",
                                     "place (predicted)"])

    def test_every_message_fits(self):
        self.widget.show()
        long_args = {"failed": ("the photos lack 512 of the model's 512 features (e.g. n0): "
                                "embed them with the same model and layer",),
                     "skipped": ("2,387",), "no_ratings": ("liked or disliked",)}
        for name, message in own_messages(self.widget):
            with self.subTest(message=name):
                message(*long_args.get(name, ()))
                try:
                    fits, text = message_fits(self, self.widget)
                    self.assertTrue(fits, text)
                finally:
                    message.clear()
        self.widget.hide()
