"""Local Embedder widget with the real bundled SqueezeNet on the sample photos."""
import os

import numpy as np
from Orange.data import ContinuousVariable, Domain, Table
from Orange.widgets.tests.base import WidgetTest

from orangecontrib.geophoto.datasets import SAMPLE_PHOTOS, sample_photo_paths
from orangecontrib.geophoto.widgets.owlocalembedder import MODEL_KEYS, OWLocalEmbedder
from tests.widgets.test_owexifgeotag import import_images_table


class TestOWLocalEmbedder(WidgetTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._cache = os.environ.get("GEOPHOTO_CACHE_DIR")
        import tempfile
        os.environ["GEOPHOTO_CACHE_DIR"] = tempfile.mkdtemp()

    @classmethod
    def tearDownClass(cls):
        if cls._cache is None:
            os.environ.pop("GEOPHOTO_CACHE_DIR", None)
        super().tearDownClass()

    def setUp(self):
        self.widget = self.create_widget(OWLocalEmbedder)
        names = sorted(os.path.basename(p) for p in sample_photo_paths())
        self.data = import_images_table(SAMPLE_PHOTOS, names + ["gone.jpg"])

    def test_embeddings_skipped_and_labels(self):
        self.send_signal(self.widget.Inputs.data, self.data)
        emb = self.get_output(self.widget.Outputs.embeddings, wait=60_000)
        self.assertEqual(len(emb), len(self.data) - 1)
        self.assertEqual(len(emb.domain.attributes), 512)  # fire9, the default
        self.assertTrue(np.isfinite(emb.X).all())
        skipped = self.get_output(self.widget.Outputs.skipped)
        self.assertEqual(list(skipped.get_column("image")), ["gone.jpg"])
        self.assertTrue(self.widget.Warning.skipped.is_shown())
        labels = self.get_output(self.widget.Outputs.labels)
        self.assertEqual(len(labels), len(self.data))
        self.assertTrue(all(" / " in n for n in labels.get_column("name")[:-1]))
        self.assertIn("9 of 10 photos embedded", self.widget.info_label.text())
        self.widget.send_report()

    def test_pool10_layer_and_settings_saved(self):
        self.widget.squeezenet_layer = 0
        self.widget.top_k = 3
        self.send_signal(self.widget.Inputs.data, self.data[:3])
        emb = self.get_output(self.widget.Outputs.embeddings, wait=60_000)
        self.assertEqual(len(emb.domain.attributes), 1000)
        labels = self.get_output(self.widget.Outputs.labels)
        self.assertIn("label 3", [v.name for v in labels.domain.metas])
        settings = self.widget.settingsHandler.pack_data(self.widget)
        restored = self.create_widget(OWLocalEmbedder, stored_settings=settings)
        self.assertEqual((restored.squeezenet_layer, restored.top_k), (0, 3))

    def test_workflows_saved_by_0_1_keep_their_layer(self):
        """pool10 was 0.1's default: a workflow saved then (settings version 1, with or
        without the layer stored) still embeds with pool10; a new widget uses fire9."""
        self.assertEqual(self.widget.squeezenet_layer, 1)
        for stored in ({"__version__": 1, "squeezenet_layer": 0}, {"__version__": 1},
                       {"top_k": 2}):
            old = self.create_widget(OWLocalEmbedder, stored_settings=dict(stored))
            self.assertEqual(old.squeezenet_layer, 0, stored)

    def test_bad_custom_model_is_an_error_and_canvas_goes_on(self):
        self.widget.model_index = MODEL_KEYS.index("custom")
        self.widget.custom_path = os.path.abspath(__file__)
        self.send_signal(self.widget.Inputs.data, self.data[:2])
        self.wait_until_finished(timeout=60_000)
        self.assertTrue(self.widget.Error.model.is_shown())
        self.assertIn("not a model", str(self.widget.Error.model))
        self.assertIsNone(self.get_output(self.widget.Outputs.embeddings))
        self.widget.custom_path = ""
        self.widget.commit.now()
        self.assertTrue(self.widget.Error.no_custom_model.is_shown())

    def test_no_image_column(self):
        data = Table.from_numpy(Domain([ContinuousVariable("x")]), np.zeros((2, 1)))
        self.send_signal(self.widget.Inputs.data, data)
        self.assertTrue(self.widget.Error.no_image_column.is_shown())
        self.assertIsNone(self.get_output(self.widget.Outputs.embeddings))


WITHOUT_TENSORFLOW = r"""
import sys
sys.modules["tensorflow"] = None          # any `import tensorflow` now raises ImportError
from Orange.widgets.tests.base import WidgetTest
from orangecontrib.geophoto.datasets import sample_photo_paths
from orangecontrib.geophoto.tables import table_from_paths
from orangecontrib.geophoto.widgets.owexifgeotag import OWExifGeotag
from orangecontrib.geophoto.widgets.owlocalembedder import OWLocalEmbedder

class T(WidgetTest):
    def runTest(self):
        data = table_from_paths(sample_photo_paths()[:2])
        embedder = self.create_widget(OWLocalEmbedder)
        self.send_signal(embedder.Inputs.data, data, widget=embedder)
        assert embedder.Error.tensorflow.is_shown()
        assert "TensorFlow cannot be imported" in str(embedder.Error.tensorflow)
        assert self.get_output(embedder.Outputs.embeddings, widget=embedder) is None
        geotag = self.create_widget(OWExifGeotag)   # the rest of the add-on still works
        self.send_signal(geotag.Inputs.data, data, widget=geotag)
        out = self.get_output(geotag.Outputs.data, widget=geotag, wait=30_000)
        assert out is not None and len(out) == 2
        print("OK")

T.setUpClass()
T().runTest()
"""


def test_tensorflow_import_failure_is_an_error_in_this_widget_only():
    import subprocess
    import sys
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run([sys.executable, "-c", WITHOUT_TENSORFLOW], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip().endswith("OK"), done.stderr[-2000:]
