"""KML Export widget: saves real files off the GUI thread, read back by GDAL; messages,
context settings, cancelling."""
import os
import tempfile
import xml.etree.ElementTree as ET
import zipfile

import numpy as np
import pyogrio
from Orange.data import ContinuousVariable, Domain, Table
from Orange.widgets.tests.base import WidgetTest

from orangecontrib.geophoto.datasets import sample_photo_paths
from orangecontrib.geophoto.exif import geotag_table
from orangecontrib.geophoto.tables import table_from_paths
from orangecontrib.geophoto.widgets.owkmlexport import OWKMLExport

KML = "{http://www.opengis.net/kml/2.2}"


class TestOWKMLExport(WidgetTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.photos = geotag_table(table_from_paths(sample_photo_paths()))

    def setUp(self):
        self.widget = self.create_widget(OWKMLExport)
        self.folder = tempfile.mkdtemp()

    def _located(self):
        return int(np.isfinite(self.photos.get_column("latitude")).sum())

    def test_auto_save_writes_kmz_and_warns_about_rows_without_position(self):
        path = os.path.join(self.folder, "photos.kmz")
        self.widget.filename, self.widget.auto_save = path, True
        self.widget.thumbnail_size = 80
        self.send_signal(self.widget.Inputs.data, self.photos)
        self.wait_until_finished(timeout=60_000)
        self.assertTrue(os.path.exists(path))
        self.assertTrue(self.widget.Warning.without_position.is_shown())
        self.assertIn(f"{len(self.photos) - self._located()} row",
                      str(self.widget.Warning.without_position))
        self.assertIn("Saved", self.widget.info_label.text())  # the confirmation moved to Info
        frame = pyogrio.read_dataframe(f"/vsizip/{path}/doc.kml")
        self.assertEqual(len(frame), self._located())
        self.widget.send_report()

    def test_group_and_balloon_columns_are_context_settings_and_used(self):
        self.send_signal(self.widget.Inputs.data, self.photos)
        groups = [v.name for v in self.widget.group_model if v is not None]
        self.assertIn("position source", groups)
        self.assertNotIn("image", groups)
        domain = self.photos.domain
        self.widget.group_var = domain["position source"]
        self.widget.balloon_vars = [domain["camera model"], domain["time (UTC)"]]
        self.widget.name_template = "{camera model}"
        self.widget.privacy, self.widget.privacy_grid_m = 1, 500
        settings = self.widget.settingsHandler.pack_data(self.widget)
        restored = self.create_widget(OWKMLExport, stored_settings=settings)
        self.send_signal(restored.Inputs.data, self.photos, widget=restored)
        self.assertEqual((restored.name_template, restored.privacy, restored.privacy_grid_m,
                          restored.group_var.name, [v.name for v in restored.balloon_vars]),
                         ("{camera model}", 1, 500, "position source",
                          ["camera model", "time (UTC)"]))
        path = os.path.join(self.folder, "grouped.kml")
        restored.filename = path
        restored.save_file()
        self.wait_until_finished(restored, timeout=60_000)
        root = ET.parse(path).getroot()
        folders = [f.findtext(f"{KML}name") for f in root.iter(f"{KML}Folder")]
        sources = {self.photos.domain["position source"].str_val(x)
                   for x, lat in zip(self.photos.get_column("position source"),
                                     self.photos.get_column("latitude")) if lat == lat}
        self.assertEqual(set(folders), sources)
        description = next(root.iter(f"{KML}description")).text
        self.assertIn("camera model", description)
        self.assertNotIn("latitude", description)
        restored.send_report()

    def test_no_coordinates_and_bad_template(self):
        data = Table.from_numpy(Domain([ContinuousVariable("x")]), np.zeros((2, 1)))
        self.widget.filename = os.path.join(self.folder, "x.kml")
        self.send_signal(self.widget.Inputs.data, data)
        self.assertTrue(self.widget.Error.no_coordinates.is_shown())
        self.send_signal(self.widget.Inputs.data, self.photos)
        self.assertFalse(self.widget.Error.no_coordinates.is_shown())
        self.widget.name_template = "{missing column}"
        self.widget.save_file()
        self.wait_until_finished(timeout=60_000)
        self.assertTrue(self.widget.Error.export_failed.is_shown())
        self.assertFalse(os.path.exists(os.path.join(self.folder, "x.kml")))

    def test_predicted_positions_are_reported(self):
        lat, lon = ContinuousVariable("latitude (predicted)"), \
            ContinuousVariable("longitude (predicted)")
        data = Table.from_numpy(Domain([lat, lon, ContinuousVariable("uncertainty (m)")]),
                                np.array([[45.43, 12.33, 300.0], [np.nan, np.nan, np.nan]]))
        path = os.path.join(self.folder, "pred.kml")
        self.widget.filename, self.widget.auto_save = path, True
        self.send_signal(self.widget.Inputs.data, data)
        self.wait_until_finished(timeout=60_000)
        self.assertTrue(self.widget.Information.predicted.is_shown())
        self.assertTrue(self.widget.Warning.without_position.is_shown())
        root = ET.parse(path).getroot()
        self.assertEqual(len(list(root.iter(f"{KML}Polygon"))), 1)

    def test_cancel_mid_way_leaves_no_file_and_keeps_the_old_one(self):
        many = Table.concatenate([self.photos] * 60)  # 540 rows: thumbnails take a while
        path = os.path.join(self.folder, "many.kmz")
        with open(path, "w") as f:
            f.write("previous export")
        self.widget.filename, self.widget.thumbnail_size = path, 200
        self.send_signal(self.widget.Inputs.data, many)
        self.widget.save_file()
        self.process_events(until=lambda: self.widget.task is not None)
        self.widget.cancel()
        self.wait_until_finished(timeout=60_000)
        self.assertEqual(os.listdir(self.folder), ["many.kmz"])
        with open(path) as f:
            self.assertEqual(f.read(), "previous export")
        self.assertFalse(self.widget.Error.export_failed.is_shown())
        self.assertIn("Cancelled", self.widget.info_label.text())
        # a new input also cancels: the second export's file is complete
        self.widget.save_file()
        self.send_signal(self.widget.Inputs.data, self.photos)
        self.widget.save_file()
        self.wait_until_finished(timeout=60_000)
        with zipfile.ZipFile(path) as kmz:
            self.assertIn("doc.kml", kmz.namelist())

    def test_settings_of_version_1_load(self):
        old = {"group_column": "cluster", "name_template": "{place}", "privacy": 2,
               "__version__": 1}
        widget = self.create_widget(OWKMLExport, stored_settings=old)
        self.assertEqual((widget.name_template, widget.privacy, widget.group_var),
                         ("{place}", 2, None))
