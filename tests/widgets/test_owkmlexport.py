"""KML Export widget: saves real files off the GUI thread, messages, settings."""
import os
import tempfile

import numpy as np
import pyogrio
from Orange.data import ContinuousVariable, Domain, Table
from Orange.widgets.tests.base import WidgetTest

from orangecontrib.geophoto.datasets import sample_photo_paths
from orangecontrib.geophoto.exif import geotag_table
from orangecontrib.geophoto.tables import table_from_paths
from orangecontrib.geophoto.widgets.owkmlexport import OWKMLExport


class TestOWKMLExport(WidgetTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.photos = geotag_table(table_from_paths(sample_photo_paths()))

    def setUp(self):
        self.widget = self.create_widget(OWKMLExport)
        self.folder = tempfile.mkdtemp()

    def test_auto_save_writes_kmz_and_warns_about_rows_without_position(self):
        path = os.path.join(self.folder, "photos.kmz")
        self.widget.filename, self.widget.auto_save = path, True
        self.widget.thumbnail_size = 80
        self.send_signal(self.widget.Inputs.data, self.photos)
        self.wait_until_finished(timeout=60_000)
        self.assertTrue(os.path.exists(path))
        self.assertTrue(self.widget.Warning.without_position.is_shown())
        self.assertTrue(self.widget.Information.saved.is_shown())
        frame = pyogrio.read_dataframe(f"/vsizip/{path}/doc.kml")
        self.assertEqual(len(frame), int(np.isfinite(self.photos.get_column("latitude")).sum()))
        self.widget.send_report()

    def test_group_column_choice_and_settings(self):
        self.send_signal(self.widget.Inputs.data, self.photos)
        items = [self.widget.group_combo.itemText(i)
                 for i in range(self.widget.group_combo.count())]
        self.assertIn("position source", items)
        self.widget.group_column = "position source"
        self.widget.name_template = "{camera model}"
        self.widget.privacy, self.widget.privacy_grid_m = 1, 500
        settings = self.widget.settingsHandler.pack_data(self.widget)
        restored = self.create_widget(OWKMLExport, stored_settings=settings)
        self.assertEqual((restored.name_template, restored.privacy, restored.privacy_grid_m,
                          restored.group_column),
                         ("{camera model}", 1, 500, "position source"))

    def test_no_coordinates_and_bad_template(self):
        data = Table.from_numpy(Domain([ContinuousVariable("x")]), np.zeros((2, 1)))
        self.widget.filename = os.path.join(self.folder, "x.kml")
        self.send_signal(self.widget.Inputs.data, data)
        self.assertTrue(self.widget.Error.no_coordinates.is_shown())
        self.send_signal(self.widget.Inputs.data, self.photos)
        self.widget.name_template = "{missing column}"
        self.widget.save_file()
        self.wait_until_finished(timeout=60_000)
        self.assertTrue(self.widget.Error.export_failed.is_shown())
        self.assertFalse(os.path.exists(os.path.join(self.folder, "x.kml")))
