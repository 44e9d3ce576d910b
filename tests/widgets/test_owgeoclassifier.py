"""Geo Classifier widget on real Venice photos embedded in the test."""
import os
import pickle

import numpy as np
from Orange.data import ContinuousVariable, Domain, Table
from Orange.widgets.tests.base import WidgetTest

from orangecontrib.geophoto.embedders import embed_table
from orangecontrib.geophoto.tables import append_columns, table_from_paths
from orangecontrib.geophoto.widgets.owgeoclassifier import OWGeoClassifier
from tests.conftest import VENICE
from tests.exif_fixtures import venice_labels


class TestOWGeoClassifier(WidgetTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        rows = venice_labels(n=120)
        data = table_from_paths([os.path.join(VENICE, "images", r[0]) for r in rows])
        data = append_columns(data, attributes=[
            (ContinuousVariable("latitude"), [r[1] for r in rows]),
            (ContinuousVariable("longitude"), [r[2] for r in rows])])
        cls.embedded = embed_table(data, layer="fire9", top_k=0, cache=False).embeddings
        # photos to locate: features only, no coordinates
        domain = cls.embedded.domain
        cls.photos = cls.embedded[100:].transform(
            Domain(domain.attributes[2:], metas=domain.metas))

    def setUp(self):
        self.widget = self.create_widget(OWGeoClassifier)

    def test_predictions_evaluation_and_model(self):
        self.widget.method = 2  # nearest neighbours: quick
        self.send_signal(self.widget.Inputs.data, self.embedded[:100])
        self.send_signal(self.widget.Inputs.photos, self.photos)
        predictions = self.get_output(self.widget.Outputs.predictions, wait=120_000)
        self.assertEqual(len(predictions), len(self.photos))
        from orangecontrib.geo.utils import find_lat_lon
        lat, lon = find_lat_lon(predictions, filter_hidden=True)
        self.assertEqual((lat.name, lon.name),
                         ("latitude (predicted)", "longitude (predicted)"))
        self.assertTrue(np.isfinite(predictions.get_column("uncertainty (m)")).all())
        evaluation = self.get_output(self.widget.Outputs.evaluation)
        self.assertIn("mean error (m)", list(evaluation.get_column("metric")))
        model = pickle.loads(pickle.dumps(self.get_output(self.widget.Outputs.model)))
        self.assertEqual(len(model(self.photos)), len(self.photos))
        self.assertIn("Cross-validated", self.widget.info_label.text())
        self.widget.send_report()

    def test_errors_and_settings(self):
        no_features = self.embedded.transform(Domain(self.embedded.domain.attributes[:2]))
        self.send_signal(self.widget.Inputs.data, no_features)
        self.assertTrue(self.widget.Error.no_features.is_shown())
        self.assertIsNone(self.get_output(self.widget.Outputs.predictions))
        self.widget.do_evaluate = False
        self.widget.method = 3
        settings = self.widget.settingsHandler.pack_data(self.widget)
        restored = self.create_widget(OWGeoClassifier, stored_settings=settings)
        self.assertEqual((restored.do_evaluate, restored.method), (False, 3))

    def test_mismatched_features_is_an_error(self):
        self.widget.method, self.widget.do_evaluate = 2, False
        self.send_signal(self.widget.Inputs.data, self.embedded[:100])
        wrong = Table.from_numpy(Domain([ContinuousVariable("x")]), np.zeros((2, 1)))
        self.send_signal(self.widget.Inputs.photos, wrong)
        self.wait_until_finished(timeout=60_000)
        self.assertTrue(self.widget.Error.failed.is_shown())
        self.assertIn("features", str(self.widget.Error.failed))


def _folder_table(folder):
    """Photos in subfolders as Import Images reads them: ``category`` = the folder name."""
    from orangecontrib.imageanalytics.import_images import ImportImages
    data, _ = ImportImages()(folder)
    return embed_table(data, layer="fire9", top_k=0, cache=False).embeddings


class TestOWGeoClassifierPlaces(WidgetTest):
    """Place mode on the bundled example photos: places from folders, ratings from the
    'liked'/'disliked' folders of the photos a user swiped."""
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        from orangecontrib.geophoto.tutorials import __file__ as tutorials
        folder = os.path.dirname(tutorials)
        cls.places = _folder_table(os.path.join(folder, "places"))
        cls.swipes = _folder_table(os.path.join(folder, "swipes"))

    def setUp(self):
        self.widget = self.create_widget(OWGeoClassifier)

    def test_places_from_folders_and_ranking_from_swipes(self):
        self.send_signal(self.widget.Inputs.data, self.places)
        self.send_signal(self.widget.Inputs.photos, self.swipes)
        # connects without configuration: the folder column is the place, the swiped
        # photos' liked/disliked folders are the ratings
        self.assertEqual(self.widget.place_var.name, "category")
        self.assertEqual(self.widget.liked_name, "category")
        self.assertEqual(self.widget.liked_combo.currentText(), "category (Photos)")
        predictions = self.get_output(self.widget.Outputs.predictions, wait=60_000)
        self.assertEqual(len(predictions), len(self.swipes))
        places = ["murano", "rialto", "salute", "san-marco"]
        self.assertEqual(sorted(self.places.domain.class_var.values), places)
        probs = np.column_stack([predictions.get_column(f"P({p})") for p in places])
        np.testing.assert_allclose(probs.sum(1), 1, atol=1e-6)
        distances = self.get_output(self.widget.Outputs.place_distances)
        self.assertEqual(distances.shape, (4, 4))
        np.testing.assert_allclose(np.diag(distances), 0, atol=1e-6)
        ranking = self.get_output(self.widget.Outputs.place_ranking)
        self.assertEqual(sorted(ranking.get_column("place")), places)
        # the user liked Rialto and Murano photos: those places rank first
        self.assertEqual(set(ranking.get_column("place")[:2]), {"murano", "rialto"})
        self.assertIn("rated photos", self.widget.info_label.text())
        self.widget.send_report()

    def test_ratings_choice_is_kept_and_can_be_turned_off(self):
        self.send_signal(self.widget.Inputs.data, self.places)
        self.send_signal(self.widget.Inputs.photos, self.swipes)
        self.wait_until_finished(timeout=60_000)
        self.widget.liked_combo.setCurrentIndex(0)
        self.widget.liked_combo.activated[int].emit(0)
        self.wait_until_finished(timeout=60_000)
        self.assertEqual(self.widget.liked_name, "")
        self.assertIsNone(self.get_output(self.widget.Outputs.place_ranking))
        # "(none)" is a choice: new photos do not pick a ratings column again
        self.send_signal(self.widget.Inputs.photos, self.swipes[:4])
        self.assertEqual(self.widget.liked_name, "")
        settings = self.widget.settingsHandler.pack_data(self.widget)
        restored = self.create_widget(OWGeoClassifier, stored_settings=settings)
        self.assertEqual(restored.liked_name, "")

    def test_missing_ratings_column_is_a_warning_not_a_silent_gap(self):
        self.widget.liked_name = "stars"  # saved with a workflow whose photos had it
        self.send_signal(self.widget.Inputs.data, self.places)
        self.send_signal(self.widget.Inputs.photos, self.swipes)
        predictions = self.get_output(self.widget.Outputs.predictions, wait=60_000)
        self.assertTrue(self.widget.Warning.no_ratings.is_shown())
        self.assertIn("stars", str(self.widget.Warning.no_ratings))
        self.assertIsNone(self.get_output(self.widget.Outputs.place_ranking))
        self.assertEqual(len(predictions), len(self.swipes))  # every photo still predicted
        self.assertEqual(self.widget.liked_combo.currentText(), "stars (missing)")  # not forgotten

    def test_workflows_of_0_1_keep_their_ratings_column(self):
        self.send_signal(self.widget.Inputs.data, self.places)
        self.wait_until_finished(timeout=60_000)
        settings = self.widget.settingsHandler.pack_data(self.widget)
        # as 0.1 saved it: a context setting, encoded (name, type) as contexts store variables
        settings["__version__"] = 1
        del settings["liked_name"]
        settings["context_settings"][0].values["liked_var"] = ("category", 101)
        restored = self.create_widget(OWGeoClassifier, stored_settings=settings)
        self.assertEqual(restored.liked_name, "category")
        self.assertNotIn("liked_var", restored.settingsHandler.pack_data(restored)
                         ["context_settings"][0].values)
