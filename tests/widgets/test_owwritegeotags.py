"""Write Geotags as a person uses it, on real photos: copies of Venice photos with capture
times, placed by a GPX track through EXIF Geotag's core, then written into XMP sidecars,
copies or the photos themselves; what was written is read back by exiftool. Writing happens
only on Write; in place only after its confirmation; a preview writes nothing; Stop; messages
that fit; settings; the report."""
import glob
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from datetime import datetime, timedelta, timezone

import numpy as np
import piexif
from AnyQt.QtCore import Qt
from AnyQt.QtTest import QTest
from Orange.data import Table
from Orange.widgets.tests.base import WidgetTest

from orangecontrib.geophoto.exif import geotag_table, read_geotag
from orangecontrib.geophoto.track import Placement, track_from_gpx
from orangecontrib.geophoto.widgets.owexifgeotag import OWExifGeotag
from orangecontrib.geophoto.widgets.owwritegeotags import COPY, INPLACE, OWWriteGeotags
from tests.exif_fixtures import copy_venice, venice_labels, write_exif
from tests.widgets.test_owexifgeotag import import_images_table
from tests.widgets.test_owexifgeotag_ui import assert_messages_fit

EXIFTOOL = shutil.which("exiftool")
START = datetime(2019, 5, 18, 7, 30, tzinfo=timezone.utc)  # the first photo, in UTC


def make_walk(folder, n, minutes=3):
    """``n`` Venice photos copied into ``folder`` without GPS, taken ``minutes`` apart
    (local time, +02:00), and the GPX track of the walk: a fix every minute along the
    positions their authors recorded. Returns (file names, recorded positions, gpx path)."""
    rows = venice_labels(n)
    names, positions = [], []
    for i, (name, lat, lon) in enumerate(rows):
        path = copy_venice(folder, name, f"photo-{i:04d}.jpg")
        taken = (START + timedelta(minutes=minutes * i)).astimezone(
            timezone(timedelta(hours=2)))
        write_exif(path, exif={
            piexif.ExifIFD.DateTimeOriginal: taken.strftime("%Y:%m:%d %H:%M:%S").encode(),
            piexif.ExifIFD.OffsetTimeOriginal: b"+02:00"})
        names.append(os.path.basename(path))
        positions.append((lat, lon))
    positions = np.array(positions)
    times = np.array([(START + timedelta(minutes=minutes * i)).timestamp() for i in range(n)])
    fixes = np.arange(times[0] - 120, times[-1] + 121, 60.0)
    lats = np.interp(fixes, times, positions[:, 0])
    lons = np.interp(fixes, times, positions[:, 1])
    gpx = os.path.join(folder, "walk.gpx")
    with open(gpx, "w", encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="test" '
                'xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>\n')
        for t, lat, lon in zip(fixes, lats, lons):
            moment = datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            f.write(f'<trkpt lat="{lat:.8f}" lon="{lon:.8f}"><time>{moment}</time></trkpt>\n')
        f.write("</trkseg></trk></gpx>\n")
    return names, positions, gpx


def placed_table(folder, names, gpx):
    """What EXIF Geotag sends on: the photos placed by the track (its own core)."""
    data = import_images_table(folder, names)
    return geotag_table(data, placement=Placement(track=track_from_gpx(gpx)))


def exiftool_positions(paths):
    """{file name: (latitude, longitude)} as exiftool reads them (signed degrees)."""
    out = subprocess.run([EXIFTOOL, "-json", "-n", "-GPSLatitude", "-GPSLongitude", *paths],
                         capture_output=True, text=True, timeout=120, check=True)
    return {os.path.basename(r["SourceFile"]): (r.get("GPSLatitude"), r.get("GPSLongitude"))
            for r in json.loads(out.stdout)}


def digest(folder):
    """Hash of every file in ``folder`` by name: to see that nothing changed."""
    found = {}
    for path in sorted(glob.glob(os.path.join(folder, "**", "*"), recursive=True)):
        if os.path.isfile(path):
            with open(path, "rb") as f:
                found[os.path.relpath(path, folder)] = hashlib.sha256(f.read()).hexdigest()
    return found


class WriteGeotagsTest(WidgetTest):
    n = 4

    def setUp(self):
        if EXIFTOOL is None:
            self.skipTest("exiftool is not installed (it reads back what was written)")
        self.folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.folder, ignore_errors=True)
        self.names, self.truth, self.gpx = make_walk(self.folder, self.n)
        self.data = placed_table(self.folder, self.names, self.gpx)
        self.widget = self.create_widget(OWWriteGeotags)

    def send_and_wait(self, data=None):
        self.send_signal(self.widget.Inputs.data, self.data if data is None else data)
        self.wait_until_finished(timeout=60_000)
        return self.get_output(self.widget.Outputs.data)

    def press(self, button, timeout=60_000):
        self.assertTrue(button.isEnabled(), button.toolTip())
        button.click()
        self.wait_until_finished(timeout=timeout)
        return self.get_output(self.widget.Outputs.data)

    def photo_paths(self):
        return [os.path.join(self.folder, n) for n in self.names]


class TestOWWriteGeotags(WriteGeotagsTest):
    def test_input_is_placed_by_the_track(self):
        # the fixture itself: every photo placed by the GPX track, near where it was taken
        source = self.data.domain["position source"]
        self.assertEqual({source.str_val(v) for v in self.data.get_column(source)}, {"track"})
        placed = np.column_stack([self.data.get_column("latitude"),
                                  self.data.get_column("longitude")])
        np.testing.assert_allclose(placed, self.truth, atol=0.01)

    def test_new_data_is_only_previewed_nothing_is_written(self):
        before = digest(self.folder)
        out = self.send_and_wait()
        self.assertEqual(len(out), len(self.data))
        self.assertIn("write status", out.domain)
        self.assertTrue(self.widget.Information.preview.is_shown())
        self.assertIn("Preview", self.widget.info_label.text())
        self.assertIn("press Write", self.widget.info_label.text().replace("Press", "press"))
        self.assertEqual(digest(self.folder), before)  # no sidecar, no change
        # options run the preview again, still writing nothing
        self.widget.controls.overwrite.click()
        self.wait_until_finished(timeout=60_000)
        self.press(self.widget.preview_button)
        self.assertEqual(digest(self.folder), before)

    def test_write_sidecars_read_back_by_exiftool(self):
        self.send_and_wait()
        photos_before = {n: h for n, h in digest(self.folder).items() if n in self.names}
        out = self.press(self.widget.write_button)
        self.assertFalse(self.widget.Information.preview.is_shown())
        self.assertEqual(self.widget.result.summary.written, self.n)
        sidecars = sorted(glob.glob(os.path.join(self.folder, "*.xmp")))
        self.assertEqual(len(sidecars), self.n)
        read = exiftool_positions(sidecars)
        placed = dict(zip(self.names, zip(out.get_column("latitude"),
                                          out.get_column("longitude"))))
        for sidecar in sidecars:
            photo = next(n for n in self.names if os.path.basename(sidecar).startswith(
                os.path.splitext(n)[0]))
            np.testing.assert_allclose(read[os.path.basename(sidecar)], placed[photo],
                                       atol=1e-6)
        # the originals are untouched
        self.assertEqual({n: h for n, h in digest(self.folder).items() if n in self.names},
                         photos_before)
        self.assertIn("sidecar", self.widget.info_label.text())
        self.assertTrue(all(str(s) for s in out.get_column("write status")))

    def test_copies_into_a_folder(self):
        w = self.widget
        self.send_and_wait()
        w.controls.mode.buttons[COPY].click()
        self.wait_until_finished(timeout=60_000)
        self.assertFalse(w.write_button.isEnabled())  # no folder yet
        self.assertIn("folder", w.write_button.toolTip())
        before = digest(self.folder)
        copies = os.path.join(tempfile.mkdtemp(), "copies")
        self.addCleanup(shutil.rmtree, os.path.dirname(copies), ignore_errors=True)
        os.mkdir(copies)
        QTest.keyClicks(w.controls.out_dir, copies)  # typed, as a person does
        QTest.keyClick(w.controls.out_dir, Qt.Key_Return)
        self.wait_until_finished(timeout=60_000)
        out = self.press(w.write_button)
        self.assertEqual(digest(self.folder), before)  # originals and their folder untouched
        written = sorted(glob.glob(os.path.join(copies, "*.jpg")))
        self.assertEqual([os.path.basename(p) for p in written], sorted(self.names))
        read = exiftool_positions(written)
        lat, lon = out.get_column("latitude"), out.get_column("longitude")
        for name, la, lo in zip(self.names, lat, lon):
            np.testing.assert_allclose(read[name], (la, lo), atol=1e-6)
            # and geophoto's own reader finds them
            tag = read_geotag(os.path.join(copies, name))
            np.testing.assert_allclose((tag.latitude, tag.longitude), (la, lo), atol=1e-6)
        self.assertIn(copies, w.info_label.text())
        self.assertTrue(any(copies in str(v) for v in out.get_column("written to")))

    def test_a_failed_row_is_a_warning_with_its_reason_in_info(self):
        """A copy never replaces a file already in the folder: that row fails, the others
        are written, and Info names the photo and why."""
        w = self.widget
        copies = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, copies, ignore_errors=True)
        taken = os.path.join(copies, self.names[1])
        with open(taken, "wb") as f:
            f.write(b"someone else's file")
        w.mode, w.out_dir = COPY, copies
        self.send_and_wait()
        out = self.press(w.write_button)
        self.assertEqual((w.result.summary.written, w.result.summary.failed), (self.n - 1, 1))
        self.assertTrue(w.Warning.failed_rows.is_shown())
        self.assertIn("1 photo failed", str(w.Warning.failed_rows.formatted))
        self.assertIn(f"Not written: {self.names[1]} ({self.names[1]} already exists",
                      w.info_label.text())
        with open(taken, "rb") as f:
            self.assertEqual(f.read(), b"someone else's file")
        status = out.domain["write status"]
        self.assertEqual(status.str_val(out.get_column(status)[1]), "failed")

    def test_in_place_needs_its_confirmation_every_time(self):
        w = self.widget
        self.send_and_wait()
        before = digest(self.folder)
        w.controls.mode.buttons[INPLACE].click()
        self.wait_until_finished(timeout=60_000)
        self.assertFalse(w.confirmed)
        self.assertFalse(w.write_button.isEnabled())
        self.assertIn("I understand", w.write_button.toolTip())
        w.write()  # even from code: nothing without the confirmation
        self.wait_until_finished(timeout=60_000)
        self.assertEqual(digest(self.folder), before)
        # a preview in place changes nothing either, confirmed or not
        w.controls.confirmed.click()
        self.assertTrue(w.confirmed)
        self.press(w.preview_button)
        self.assertEqual(digest(self.folder), before)
        self.press(w.write_button)
        for path, truth in zip(self.photo_paths(), self.truth):
            tag = read_geotag(path)
            self.assertTrue(tag.has_position, path)
            np.testing.assert_allclose((tag.latitude, tag.longitude), truth, atol=0.01)
        self.assertNotEqual(digest(self.folder), before)
        # each original is kept beside its photo, byte for byte
        for name in self.names:
            self.assertEqual(digest(self.folder)[name + "_original"], before[name])
        # the confirmation is spent: the next write into the originals needs it again
        self.assertFalse(w.confirmed)
        self.assertFalse(w.controls.confirmed.isChecked())
        self.assertFalse(w.write_button.isEnabled())
        # leaving the mode and coming back does not arm it either
        w.controls.confirmed.click()
        w.controls.mode.buttons[0].click()
        w.controls.mode.buttons[INPLACE].click()
        self.assertFalse(w.confirmed)

    def test_predicted_positions_only_within_the_radius(self):
        """Geo Classifier's predictions: written, marked as predicted, only when their
        uncertainty radius is within the limit; an unknown radius is too uncertain."""
        from Orange.data import ContinuousVariable
        from orangecontrib.geophoto.tables import append_columns
        data = import_images_table(self.folder, self.names)
        radius = [50.0, 5000.0, 300.0, np.nan]
        data = append_columns(data, attributes=[
            (ContinuousVariable("latitude (predicted)"), self.truth[:, 0]),
            (ContinuousVariable("longitude (predicted)"), self.truth[:, 1]),
            (ContinuousVariable("uncertainty (m)"), np.array(radius))])
        w = self.widget
        w.controls.max_radius_m.setValue(1000)
        self.send_and_wait(data)
        out = self.press(w.write_button)
        summary = w.result.summary
        self.assertEqual((summary.written, summary.skipped_uncertain), (2, 2))
        status = out.domain["write status"]
        self.assertEqual([status.str_val(v) for v in out.get_column(status)],
                         ["written", "skipped: too uncertain", "written",
                          "skipped: too uncertain"])
        self.assertIn("2 too uncertain", w.info_label.text())
        written = [os.path.join(self.folder, self.names[i] + ".xmp") for i in (0, 2)]
        got = subprocess.run([EXIFTOOL, "-json", "-n", "-GPSLatitude", "-GPSLongitude",
                              "-GPSProcessingMethod", "-GPSHPositioningError", *written],
                             capture_output=True, text=True, timeout=120, check=True)
        for record, i in zip(json.loads(got.stdout), (0, 2)):
            np.testing.assert_allclose((record["GPSLatitude"], record["GPSLongitude"]),
                                       self.truth[i], atol=1e-7)
            self.assertIn("predicted", record["GPSProcessingMethod"])
            self.assertAlmostEqual(float(record["GPSHPositioningError"]), radius[i])
        # a larger limit lets the 5 km prediction through; the unknown radius never
        w.controls.max_radius_m.setValue(10_000)
        self.wait_until_finished(timeout=60_000)
        self.assertEqual(w.result.summary.skipped_uncertain, 1)
        self.assertTrue(w.result.dry_run)

    def test_in_place_confirmation_is_not_a_setting(self):
        w = self.widget
        w.controls.mode.buttons[INPLACE].click()
        w.controls.confirmed.click()
        packed = w.settingsHandler.pack_data(w)
        self.assertEqual(packed["mode"], INPLACE)
        self.assertNotIn("confirmed", packed)
        restored = self.create_widget(OWWriteGeotags, stored_settings=packed)
        self.assertEqual(restored.mode, INPLACE)
        self.assertFalse(restored.confirmed)
        self.assertFalse(restored.write_button.isEnabled())

    def test_settings_are_restored(self):
        w = self.widget
        w.controls.mode.buttons[COPY].click()
        w.out_dir, w.max_radius_m = "/photos/tagged", 250
        w.controls.overwrite.click()
        w.controls.keep_mtime.click()
        packed = w.settingsHandler.pack_data(w)
        restored = self.create_widget(OWWriteGeotags, stored_settings=packed)
        self.assertEqual((restored.mode, restored.out_dir, restored.max_radius_m,
                          restored.overwrite, restored.keep_mtime),
                         (COPY, "/photos/tagged", 250, True, False))

    def test_report_counts_written_and_skipped(self):
        w = self.widget
        self.send_and_wait()
        w.send_report()
        self.assertIn("To write", w.report_html)
        self.press(w.write_button)
        w.report_html = ""
        w.send_report()
        for text in ("XMP sidecars", "Written", "Skipped, already tagged",
                     "Skipped, too uncertain", "Skipped, unsupported format", "Failed"):
            self.assertIn(text, w.report_html)
        # a second write finds the sidecars: every photo is skipped as already tagged
        self.press(w.write_button)
        self.assertEqual(w.result.summary.written, 0)
        self.assertEqual(w.result.summary.skipped_tagged, self.n)

    def test_photos_that_carry_gps_are_not_written_back(self):
        """The bundled photos read by EXIF Geotag: their positions came from the photos,
        so there is nothing to write (and Info says so, not "press Write")."""
        from orangecontrib.geophoto.datasets import SAMPLE_PHOTOS, sample_photo_paths
        from orangecontrib.geophoto.tables import table_from_paths
        before = digest(SAMPLE_PHOTOS)
        out = self.send_and_wait(geotag_table(table_from_paths(sample_photo_paths())))
        summary = self.widget.result.summary
        self.assertEqual((summary.written, summary.skipped_tagged, summary.unlocated), (0, 8, 1))
        self.assertIn("Nothing to write", self.widget.info_label.text())
        self.assertNotIn("press Write", self.widget.info_label.text().replace("Press", "press"))
        self.assertEqual(len(out), 9)
        self.assertEqual(digest(SAMPLE_PHOTOS), before)

    def test_no_image_column(self):
        self.send_signal(self.widget.Inputs.data, Table("iris"))
        self.assertTrue(self.widget.Error.no_image_column.is_shown())
        self.assertFalse(self.widget.write_button.isEnabled())
        self.assertIsNone(self.get_output(self.widget.Outputs.data))
        self.send_signal(self.widget.Inputs.data, None)
        self.assertFalse(self.widget.Error.no_image_column.is_shown())
        self.assertEqual(self.widget.info_label.text(), "No data.")

    def test_every_message_fits_the_default_width(self):
        checked = assert_messages_fit(self, self.widget, {
            "failed_rows": ("2,387 photos",), "unsupported": ("2,387 photos",)})
        self.assertGreaterEqual(len(checked), 5)


class TestStop(WriteGeotagsTest):
    n = 150

    def test_stop_ends_a_write_and_leaves_no_half_written_file(self):
        w = self.widget
        self.send_and_wait()
        before = digest(self.folder)
        w.write_button.click()
        self.assertTrue(w.cancel_button.isEnabled())
        self.assertFalse(w.write_button.isEnabled())  # no second run on top of it
        # the options are locked while files are written: a change would stop the write
        self.assertFalse(w.options_box.isEnabled())
        self.assertFalse(w.mode_box.isEnabled())
        self.assertRegex(w.info_label.text(), r"^[\d,]+ of 150 photos")
        QTest.qWait(50)
        w.cancel_button.click()
        self.assertIsNone(w.task)
        self.assertFalse(w.cancel_button.isEnabled())
        self.assertRegex(w.info_label.text(), r"^Cancelled after [\d,]+ of 150 photos")
        QTest.qWait(300)  # a late result would arrive now: it is dropped
        self.assertIsNone(self.get_output(w.Outputs.data))
        after = digest(self.folder)
        # the photos are untouched; what is new is complete sidecars only, no temporary junk
        self.assertEqual({n: h for n, h in after.items() if n in before}, before)
        new = sorted(set(after) - set(before))
        self.assertTrue(all(n.endswith(".xmp") for n in new), new)
        if new:
            read = exiftool_positions([os.path.join(self.folder, n) for n in new])
            self.assertTrue(all(v[0] is not None for v in read.values()))
        self.assertTrue(w.options_box.isEnabled())
        # Write again finishes the job
        self.press(w.write_button, timeout=120_000)
        self.assertEqual(len(glob.glob(os.path.join(self.folder, "*.xmp"))), self.n)

    def test_stopping_a_preview_says_nothing_was_written(self):
        w = self.widget
        self.send_signal(w.Inputs.data, self.data)
        self.assertTrue(w.cancel_button.isEnabled())
        self.assertTrue(w.options_box.isEnabled())  # a preview never locks the options
        w.cancel_button.click()
        self.assertRegex(w.info_label.text(),
                         r"^Cancelled after [\d,]+ of 150 photos; nothing written")
        self.assertFalse(glob.glob(os.path.join(self.folder, "*.xmp")))


class TestRelativePaths(WidgetTest):
    """An example workflow names its files relative to itself (as Import Images does)."""

    def test_exif_geotag_reads_a_gpx_file_relative_to_the_workflow(self):
        folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, folder, ignore_errors=True)
        os.mkdir(os.path.join(folder, "walk"))
        names, truth, gpx = make_walk(os.path.join(folder, "walk"), 2)
        widget = self.create_widget(OWExifGeotag, env={"basedir": folder})
        widget.use_track, widget.gpx_path = True, os.path.join("walk", "walk.gpx")
        self.send_signal(widget.Inputs.data,
                         import_images_table(os.path.join(folder, "walk"), names),
                         widget=widget)
        out = self.get_output(widget.Outputs.data, widget=widget, wait=20_000)
        self.assertFalse(widget.Error.bad_track.is_shown())
        np.testing.assert_allclose(np.column_stack([out.get_column("latitude"),
                                                    out.get_column("longitude")]),
                                   truth, atol=0.01)
