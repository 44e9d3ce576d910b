"""Reverse Geocode widget on the sample photos' real positions."""
import numpy as np
from Orange.data import ContinuousVariable, Domain, Table
from Orange.widgets.tests.base import WidgetTest

from orangecontrib.geophoto.datasets import sample_photo_paths
from orangecontrib.geophoto.exif import geotag_table
from orangecontrib.geophoto.tables import table_from_paths
from orangecontrib.geophoto.widgets.owreversegeocode import OWReverseGeocode


class TestOWReverseGeocode(WidgetTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.photos = geotag_table(table_from_paths(sample_photo_paths()))

    def setUp(self):
        self.widget = self.create_widget(OWReverseGeocode)

    def test_places_and_warning_for_photo_without_position(self):
        self.send_signal(self.widget.Inputs.data, self.photos)
        out = self.get_output(self.widget.Outputs.data, wait=60_000)
        self.assertEqual(len(out), len(self.photos))
        located = np.isfinite(out.get_column("latitude"))
        self.assertEqual(set(out.get_column("country")[located]), {"Italy"})
        self.assertEqual(set(out.get_column("place")[~located]), {""})
        self.assertTrue(self.widget.Warning.invalid.is_shown())
        self.assertEqual((self.widget.lat_var.name, self.widget.lon_var.name),
                         ("latitude", "longitude"))
        self.widget.send_report()

    def test_no_coordinates_and_settings(self):
        data = Table.from_numpy(Domain([ContinuousVariable("x")]), np.zeros((2, 1)))
        self.send_signal(self.widget.Inputs.data, data)
        self.assertTrue(self.widget.Error.no_coordinates.is_shown())
        self.assertIsNone(self.get_output(self.widget.Outputs.data))
        self.widget.online, self.widget.language_index = True, 3
        settings = self.widget.settingsHandler.pack_data(self.widget)
        restored = self.create_widget(OWReverseGeocode, stored_settings=settings)
        self.assertEqual((restored.online, restored.language_index), (True, 3))
