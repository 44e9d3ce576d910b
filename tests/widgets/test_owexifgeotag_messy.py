"""EXIF Geotag widget on messy tracks (issue 10): a track with no usable point is a short
warning, not silence; a Latin-1 GPX file with its declaration is read."""
import os
import shutil
import tempfile

import numpy as np
from Orange.data import ContinuousVariable, Domain, Table, TimeVariable
from Orange.widgets.tests.base import WidgetTest

from orangecontrib.geophoto.datasets import SAMPLE_PHOTOS, sample_photo_paths
from orangecontrib.geophoto.exif import read_geotags
from orangecontrib.geophoto.widgets.owexifgeotag import OWExifGeotag
from tests.widgets.test_owexifgeotag import import_images_table

GPX = ('<?xml version="1.0" encoding="{encoding}"?>\n'
       '<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">'
       '<trk><name>Café</name><trkseg>{points}</trkseg></trk></gpx>\n')


class TestOWExifGeotagMessyTracks(WidgetTest):
    def setUp(self):
        self.widget = self.create_widget(OWExifGeotag)
        self.names = sorted(os.path.basename(p) for p in sample_photo_paths())
        self.data = import_images_table(SAMPLE_PHOTOS, self.names)
        self.folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.folder)

    def _gpx(self, points, encoding="UTF-8"):
        body = "".join(f'<trkpt lat="{lat}" lon="{lon}">'
                       + (f"<time>{t}</time>" if t else "") + "</trkpt>"
                       for t, lat, lon in points)
        path = os.path.join(self.folder, "track.gpx")
        with open(path, "wb") as f:
            f.write(GPX.format(encoding=encoding, points=body).encode(
                "latin-1" if encoding == "ISO-8859-1" else encoding))
        return path

    def _run(self):
        self.send_signal(self.widget.Inputs.data, self.data)
        out = self.get_output(self.widget.Outputs.data, wait=10_000)
        self.assertEqual(len(out), len(self.data))
        return out

    def test_gpx_with_no_usable_point_is_a_short_warning(self):
        path = self._gpx([("2019-05-18T07:00:00Z", 999, 12.3), (None, 45.43, 12.33)])
        self.widget.use_track, self.widget.gpx_path = True, path
        self._run()
        self.assertTrue(self.widget.Warning.empty_track.is_shown())
        self.assertFalse(self.widget.Error.bad_track.is_shown())
        self.assertLessEqual(len(str(self.widget.Warning.empty_track)), 60)
        self.assertIn("no usable points", str(self.widget.Warning.empty_track))

    def test_track_table_with_no_usable_point_is_a_warning_that_clears(self):
        domain = Domain([TimeVariable("time", have_date=True, have_time=True),
                         ContinuousVariable("latitude"), ContinuousVariable("longitude")])
        empty = Table.from_numpy(domain, np.array([[1.5e9, np.nan, 12.3],
                                                   [np.nan, 45.4, 12.3]]))
        self.widget.use_track = True
        self.send_signal(self.widget.Inputs.track, empty)
        self._run()
        self.assertTrue(self.widget.Warning.empty_track.is_shown())
        self.widget.use_track = False
        self.widget.commit.now()
        self.get_output(self.widget.Outputs.data, wait=10_000)
        self.assertFalse(self.widget.Warning.empty_track.is_shown())

    def test_latin1_gpx_places_the_photo_without_gps(self):
        tags = read_geotags([os.path.join(SAMPLE_PHOTOS, n) for n in self.names])
        when = next(t for t in tags if not t.has_position).time_utc.timestamp()
        stamp = (lambda s: np.datetime_as_string(np.datetime64(int(s), "s")) + "Z")
        path = self._gpx([(stamp(when - 120), 45.43, 12.33), (stamp(when + 120), 45.44, 12.34)],
                         encoding="ISO-8859-1")
        self.widget.use_track, self.widget.gpx_path = True, path
        out = self._run()
        self.assertFalse(self.widget.Error.bad_track.is_shown())
        self.assertFalse(self.widget.Warning.empty_track.is_shown())
        self.assertTrue(np.isfinite(out.get_column("latitude")).all())
