"""EXIF Geotag widget on real photos: outputs, messages, track input, settings, cancel."""
import os
import shutil
from datetime import timedelta

import numpy as np
from Orange.data import ContinuousVariable, Domain, StringVariable, Table, TimeVariable
from Orange.widgets.tests.base import WidgetTest

from orangecontrib.geophoto.datasets import SAMPLE_PHOTOS, sample_photo_paths
from orangecontrib.geophoto.exif import read_geotags
from orangecontrib.geophoto.widgets.owexifgeotag import OWExifGeotag


def import_images_table(folder, names):
    """A table shaped as Import Images emits it: no attributes, a type=image meta with
    paths relative to its origin."""
    var = StringVariable("image")
    var.attributes.update(type="image", origin=folder)
    name_var = StringVariable("image name")
    metas = np.array([[os.path.splitext(n)[0], n] for n in names], dtype=object)
    return Table.from_numpy(Domain([], metas=[name_var, var]), np.empty((len(names), 0)),
                            metas=metas)


class TestOWExifGeotag(WidgetTest):
    def setUp(self):
        self.widget = self.create_widget(OWExifGeotag)
        self.names = sorted(os.path.basename(p) for p in sample_photo_paths())
        self.data = import_images_table(SAMPLE_PHOTOS, self.names)

    def test_outputs_for_import_images_data(self):
        self.send_signal(self.widget.Inputs.data, self.data)
        out = self.get_output(self.widget.Outputs.data, wait=10_000)
        self.assertEqual(len(out), len(self.data))
        lat = out.domain["latitude"]
        self.assertIn(lat, out.domain.attributes)
        geotagged = self.get_output(self.widget.Outputs.geotagged)
        without = self.get_output(self.widget.Outputs.without_location)
        self.assertEqual(len(geotagged) + len(without), len(self.data))
        self.assertTrue(np.isfinite(geotagged.get_column("latitude")).all())
        self.assertEqual(list(without.get_column("image")), ["venice-1003.jpg"])
        self.assertIn("8 with a position", self.widget.info_label.text())
        self.assertFalse(self.widget.Warning.unreadable.is_shown())
        # what Geo Map would pick, via orange3-geo's own finder
        from orangecontrib.geo.utils import find_lat_lon
        self.assertEqual([v.name for v in find_lat_lon(out, filter_hidden=True)],
                         ["latitude", "longitude"])

    def test_unreadable_files_are_listed_and_kept(self):
        data = import_images_table(SAMPLE_PHOTOS, self.names + ["missing.jpg",
                                                                "https://x.org/a.jpg"])
        self.send_signal(self.widget.Inputs.data, data)
        out = self.get_output(self.widget.Outputs.data, wait=10_000)
        self.assertEqual(len(out), len(data))
        self.assertTrue(self.widget.Warning.unreadable.is_shown())
        self.assertIn("missing.jpg (file not found)", self.widget.info_label.text())
        self.assertIn("URLs are not read", self.widget.info_label.text())

    def test_no_image_column(self):
        data = Table.from_numpy(Domain([ContinuousVariable("x")]), np.zeros((2, 1)))
        self.send_signal(self.widget.Inputs.data, data)
        self.assertTrue(self.widget.Error.no_image_column.is_shown())
        self.assertIsNone(self.get_output(self.widget.Outputs.data))
        self.send_signal(self.widget.Inputs.data, None)
        self.assertFalse(self.widget.Error.no_image_column.is_shown())

    def test_track_input_places_photo_without_gps(self):
        tags = read_geotags([os.path.join(SAMPLE_PHOTOS, n) for n in self.names])
        missing = next(t for t in tags if not t.has_position)
        when = missing.time_utc
        fixes = [(when - timedelta(minutes=2), 45.43, 12.33),
                 (when + timedelta(minutes=2), 45.44, 12.34)]
        track = Table.from_numpy(
            Domain([TimeVariable("time", have_date=True, have_time=True),
                    ContinuousVariable("latitude"), ContinuousVariable("longitude")]),
            np.array([[t.timestamp(), a, o] for t, a, o in fixes]))
        self.widget.use_track = True
        self.send_signal(self.widget.Inputs.track, track)
        self.send_signal(self.widget.Inputs.data, self.data)
        without = self.get_output(self.widget.Outputs.without_location, wait=10_000)
        self.assertIsNone(without)
        out = self.get_output(self.widget.Outputs.data)
        row = list(out.get_column("image")).index("venice-1003.jpg")
        self.assertAlmostEqual(out.get_column("latitude")[row], 45.435)
        source = out.domain["position source"]
        self.assertEqual(source.str_val(out.get_column(source)[row]), "track")
        self.assertIn("1 by track", self.widget.info_label.text())

    def test_track_option_without_track_warns(self):
        self.widget.use_track = True
        self.send_signal(self.widget.Inputs.data, self.data)
        self.get_output(self.widget.Outputs.data, wait=10_000)
        self.assertTrue(self.widget.Warning.no_track.is_shown())

    def test_bad_gpx_file_is_an_error_not_a_crash(self):
        path = os.path.join(self.tmpdir(), "broken.gpx")
        with open(path, "w") as f:
            f.write("<gpx><trk>")
        self.widget.use_track, self.widget.gpx_path = True, path
        self.send_signal(self.widget.Inputs.data, self.data)
        out = self.get_output(self.widget.Outputs.data, wait=10_000)
        self.assertTrue(self.widget.Error.bad_track.is_shown())
        self.assertEqual(len(out), len(self.data))

    def tmpdir(self):
        import tempfile
        folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, folder)
        return folder

    def test_settings_survive_saving_the_workflow(self):
        self.send_signal(self.widget.Inputs.data, self.data)
        self.wait_until_finished()
        self.widget.use_track, self.widget.gpx_path = True, "/data/walk.gpx"
        self.widget.clock_offset, self.widget.max_gap = 1.5, 20
        self.widget.use_neighbours, self.widget.neighbour_minutes = True, 45
        settings = self.widget.settingsHandler.pack_data(self.widget)
        restored = self.create_widget(OWExifGeotag, stored_settings=settings)
        self.send_signal(restored.Inputs.data, self.data, widget=restored)
        self.wait_until_finished(widget=restored)
        for name, value in (("use_track", True), ("gpx_path", "/data/walk.gpx"),
                            ("clock_offset", 1.5), ("max_gap", 20),
                            ("use_neighbours", True), ("neighbour_minutes", 45)):
            self.assertEqual(getattr(restored, name), value, name)
        self.assertEqual(restored.image_var.name, "image")

    def test_new_data_cancels_running_task_and_report(self):
        self.send_signal(self.widget.Inputs.data, self.data)
        self.send_signal(self.widget.Inputs.data, self.data[:3])
        out = self.get_output(self.widget.Outputs.data, wait=10_000)
        self.assertEqual(len(out), 3)
        self.widget.send_report()
