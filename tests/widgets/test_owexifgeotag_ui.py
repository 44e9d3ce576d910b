"""EXIF Geotag as a person uses it (issue 11): Cancel and progress on the real Venice photos,
messages that fit the widget, Info that never describes an older run, greyed-out options."""
import os
import re
from unittest.mock import patch

from AnyQt.QtCore import Qt
from AnyQt.QtTest import QTest
from Orange.data import Table
from Orange.widgets.tests.base import WidgetTest
from orangewidget.utils.messages import _BoundMsg
from orangewidget.utils.messagewidget import ElidingLabel

from orangecontrib.geophoto.datasets import SAMPLE_PHOTOS, sample_photo_paths
from orangecontrib.geophoto.widgets.common import progress_at, progress_text
from orangecontrib.geophoto.widgets.owexifgeotag import OWExifGeotag
from tests.conftest import ROOT
from tests.widgets.test_owexifgeotag import import_images_table

VENICE = os.path.join(ROOT, "..", "shared", "data", "venice", "images")


def venice_table(n):
    names = sorted(os.listdir(VENICE))[:n]
    return import_images_table(VENICE, names)


def assert_messages_fit(test, widget, samples):
    """Show each message of the widget alone at the widget's default size: the message bar
    must show it whole (not elided with '…') and the widget must not grow for it.
    ``samples`` gives the arguments of every message that has a placeholder."""
    widget.show()
    test.process_events()
    width = widget.width()
    label = widget.message_bar.findChild(ElidingLabel)
    checked = []
    for group in widget.message_groups:
        for name, msg in vars(group).items():
            if not isinstance(msg, _BoundMsg) or name == "_general" or \
                    name in samples.get("not shown by this widget", ()):
                continue
            for other in widget.message_groups:
                other.clear()
            args = samples.get(name, ())
            if "{" in str(msg) and not args:
                test.fail(f"no sample arguments for message {name}")
            msg(*args)
            test.process_events()
            text = "" + msg.formatted  # a plain str: messages compare by identity
            test.assertEqual(str(label.text()), text, f"{name} is cut: {label.text()!r}")
            advance = label.fontMetrics().horizontalAdvance(text)
            test.assertLessEqual(advance, label.width() + 1, name)
            test.assertEqual(widget.width(), width, f"{name} widens the widget")
            checked.append(name)
    widget.hide()
    return checked


class TestOWExifGeotagUI(WidgetTest):
    def setUp(self):
        self.widget = self.create_widget(OWExifGeotag)
        self.samples = import_images_table(
            SAMPLE_PHOTOS, sorted(os.path.basename(p) for p in sample_photo_paths()))

    def test_cancel_button_stops_reading_500_venice_photos(self):
        w = self.widget
        self.assertFalse(w.cancel_button.isEnabled())
        self.send_signal(w.Inputs.data, venice_table(500))
        self.assertTrue(w.cancel_button.isEnabled())
        self.assertRegex(w.info_label.text(), r"^[\d,]+ of 500 photos")
        w.cancel_button.click()
        self.assertIsNone(w.task)
        self.assertFalse(w.cancel_button.isEnabled())
        self.assertRegex(w.info_label.text(), r"^Cancelled after [\d,]+ of 500 photos")
        QTest.qWait(500)  # a late result would arrive now: it is dropped
        self.assertIsNone(self.get_output(w.Outputs.data))
        self.assertRegex(w.info_label.text(), "^Cancelled")
        # Apply reads them all
        w.commit.now()
        out = self.get_output(w.Outputs.data, wait=60_000)
        self.assertEqual(len(out), 500)
        self.assertIn("500 photos", w.info_label.text())

    def test_unticking_apply_automatically_stops_the_run(self):
        w = self.widget
        self.send_signal(w.Inputs.data, venice_table(500))
        self.assertIsNotNone(w.task)
        w.controls.auto_apply.setChecked(False)
        self.assertIsNone(w.task)
        self.assertIn("Stopped", w.info_label.text())
        self.assertIn("Apply Automatically was turned off", w.info_label.text())
        self.assertIn("Press Apply", w.info_label.text())
        self.assertIsNone(self.get_output(w.Outputs.data))
        # ticking it again applies what was stopped
        w.controls.auto_apply.setChecked(True)
        out = self.get_output(w.Outputs.data, wait=60_000)
        self.assertEqual(len(out), 500)

    def test_progress_text(self):
        self.assertEqual(progress_text(progress_at("Reading", 1234 / 2387, 2387, 0), "photo"),
                         "1,234 of 2,387 photos")
        self.assertEqual(progress_text(progress_at("Reading", 0.5, 2387, 40), "photo"),
                         "1,194 of 2,387 photos, about 40 s left")
        self.assertEqual(progress_text(progress_at("Reading", 0.1, 10, 60), "photo"),
                         "1 of 10 photos, about 9 min left")

    def test_every_message_fits_the_default_width(self):
        checked = assert_messages_fit(self, self.widget, {"unreadable": ("2,387 files",)})
        self.assertGreaterEqual(len(checked), 6)

    def test_info_is_not_stale_after_an_error(self):
        w = self.widget
        self.send_signal(w.Inputs.data, self.samples)
        self.get_output(w.Outputs.data, wait=10_000)
        self.assertIn("with a position", w.info_label.text())
        with patch("orangecontrib.geophoto.widgets.owexifgeotag.geotag_table",
                   side_effect=OSError("the disk went away")):
            w.commit.now()
            self.wait_until_finished()
        self.assertTrue(w.Error.failed.is_shown())
        self.assertNotIn("with a position", w.info_label.text())
        self.assertIn("the disk went away", w.info_label.text())
        self.assertIsNone(self.get_output(w.Outputs.data))
        # data without an image column: Info says so, not the last result
        self.send_signal(w.Inputs.data, Table("iris"))
        self.assertTrue(w.Error.no_image_column.is_shown())
        self.assertEqual(w.info_label.text(), "No image column.")

    def test_bad_track_reason_is_in_info(self):
        path = os.path.join(self.tmpdir(), "broken.gpx")
        with open(path, "w") as f:
            f.write("<gpx><trk>")
        self.widget.use_track, self.widget.gpx_path = True, path
        self.send_signal(self.widget.Inputs.data, self.samples)
        self.get_output(self.widget.Outputs.data, wait=10_000)
        self.assertTrue(self.widget.Error.bad_track.is_shown())
        self.assertIn("No track: ", self.widget.info_label.text())

    def tmpdir(self):
        import shutil
        import tempfile
        folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, folder)
        return folder

    def test_track_and_neighbour_options_are_greyed_when_unticked(self):
        w = self.widget
        self.assertFalse(w.use_track)
        self.assertFalse(w.gpx_edit.isEnabled())
        self.assertFalse(w.controls.clock_offset.isEnabled())
        self.assertFalse(w.controls.max_gap.isEnabled())
        self.assertFalse(w.controls.neighbour_minutes.isEnabled())
        w.controls.use_track.click()
        self.assertTrue(w.gpx_edit.isEnabled())
        self.assertTrue(w.controls.max_gap.isEnabled())
        w.controls.use_neighbours.click()
        self.assertTrue(w.controls.neighbour_minutes.isEnabled())
        w.controls.use_track.click()
        self.assertFalse(w.gpx_edit.isEnabled())

    def test_restored_ticked_track_option_is_enabled(self):
        widget = self.create_widget(OWExifGeotag, stored_settings={"use_track": True})
        self.assertTrue(widget.gpx_edit.isEnabled())

    def test_no_photo_with_gps_is_a_warning(self):
        # the Venice photos carry no GPS at all
        self.send_signal(self.widget.Inputs.data, venice_table(20))
        self.get_output(self.widget.Outputs.data, wait=10_000)
        self.assertTrue(self.widget.Warning.no_gps.is_shown())
        self.send_signal(self.widget.Inputs.data, self.samples)
        self.get_output(self.widget.Outputs.data, wait=10_000)
        self.assertFalse(self.widget.Warning.no_gps.is_shown())

    def test_neighbour_option_reads_as_one_line(self):
        """The minutes sit in one labelled spin box, not a sentence broken over a line."""
        spin = self.widget.controls.neighbour_minutes
        self.assertEqual(spin.suffix(), " min")
        self.assertEqual(spin.alignment() & Qt.AlignRight, Qt.AlignRight)
        self.assertTrue(re.fullmatch(r"Place between geotagged photos",
                                     self.widget.controls.use_neighbours.text()))
