"""KML Export as a person uses it (issue 11): Cancel and progress, messages that fit, no stale
error, the name template's column list and check while typing, Enter that does not press
Save, the confirmation beside a warning, the KMZ's name, balloons without copied columns."""
import os
import shutil
import tempfile
import xml.etree.ElementTree as ET
import zipfile

import numpy as np
from AnyQt.QtCore import Qt
from AnyQt.QtTest import QTest
from PIL import Image
from Orange.data import ContinuousVariable, Domain, Table
from Orange.widgets.tests.base import WidgetTest
from Orange.widgets.tests.utils import simulate

from orangecontrib.geophoto.datasets import SAMPLE_PHOTOS, sample_photo_paths
from orangecontrib.geophoto.exif import geotag_table
from orangecontrib.geophoto.widgets.owkmlexport import OWKMLExport, template_problem
from tests.widgets.test_owexifgeotag import import_images_table
from tests.widgets.test_owexifgeotag_ui import assert_messages_fit

KML = "{http://www.opengis.net/kml/2.2}"


def import_images_with_size():
    """Import Images' shape with its ``width``/``height`` metas (read by Pillow)."""
    names = sorted(os.path.basename(p) for p in sample_photo_paths())
    table = import_images_table(SAMPLE_PHOTOS, names)
    sizes = []
    for name in names:
        with Image.open(os.path.join(SAMPLE_PHOTOS, name)) as im:
            sizes.append(im.size)
    width, height = ContinuousVariable("width"), ContinuousVariable("height")
    domain = Domain([], metas=[*table.domain.metas, width, height])
    return Table.from_numpy(domain, table.X, metas=np.hstack(
        [table.metas, np.array(sizes, dtype=object)]))


class TestOWKMLExportUI(WidgetTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.photos = geotag_table(import_images_with_size())
        cls.photos.name = "Labels"  # as a table arrives named after a channel

    def setUp(self):
        self.widget = self.create_widget(OWKMLExport)
        self.folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.folder)

    def _save(self, name, widget=None):
        widget = widget or self.widget
        widget.filename = os.path.join(self.folder, name)
        widget.save_file()
        self.wait_until_finished(widget, timeout=60_000)
        return widget.filename

    def test_cancel_button_ends_an_export(self):
        w = self.widget
        many = Table.concatenate([self.photos] * 60)  # 540 rows: thumbnails take a while
        located = int(np.isfinite(many.get_column("latitude")).sum())
        w.filename, w.thumbnail_size = os.path.join(self.folder, "many.kmz"), 400
        self.send_signal(w.Inputs.data, many)
        self.assertFalse(w.cancel_button.isEnabled())
        w.save_file()
        self.assertTrue(w.cancel_button.isEnabled())
        self.assertRegex(w.info_label.text(), rf"^[\d,]+ of {located} placemarks")
        w.cancel_button.click()
        self.assertIsNone(w.task)
        self.assertRegex(w.info_label.text(), rf"^Cancelled after [\d,]+ of {located} placemarks"
                                              "; nothing saved")
        self.assertIn("Press Save", w.info_label.text())
        QTest.qWait(500)
        self.assertEqual(os.listdir(self.folder), [])
        self.assertFalse(w.Error.export_failed.is_shown())

    def test_every_message_fits_the_default_width(self):
        longest_problem = max((template_problem(t, set()) for t in
                               ("{abcdefghijklmnopq}", "{", "{}")), key=len)
        checked = assert_messages_fit(self, self.widget, {
            "without_position": ("2,387 rows",), "template": (longest_problem,),
            "predicted": ("2,387 positions",), "impossible": ("2,387",),
            "thumbnails": ("2,387",),
            # Orange's own, which this widget never triggers (its saving runs in a task)
            "not shown by this widget": ("general_error", "unsupported_format",
                                         "empty_input", "auto_save_disabled")})
        self.assertIn("export_failed", checked)

    def test_export_error_goes_when_the_template_is_fixed(self):
        w = self.widget
        self.send_signal(w.Inputs.data, self.photos)
        self._save("ok.kml")
        self.assertIn("Saved 8 placemarks", w.info_label.text())
        w.template_edit.setText("{camera modl}")
        w.template_edit.editingFinished.emit()
        self._save("bad.kml")
        self.assertTrue(w.Error.export_failed.is_shown())
        self.assertNotIn("Saved", w.info_label.text())  # Info tells of this attempt
        self.assertIn("camera modl", w.info_label.text())
        w.template_edit.setText("{camera model}")
        w.template_edit.editingFinished.emit()
        self.assertFalse(w.Error.export_failed.is_shown())
        self.assertFalse(w.Error.active)  # no error mark left on the canvas node

    def test_template_is_checked_while_typing(self):
        w = self.widget
        self.send_signal(w.Inputs.data, self.photos)
        w.template_edit.setText("{camera mod")
        self.assertTrue(w.Warning.template.is_shown())
        self.assertIn("not closed", str(w.Warning.template))
        w.template_edit.setText("{camera mod}")
        self.assertIn("no column 'camera mod'", str(w.Warning.template))
        w.template_edit.setText("{camera model} - {place")
        self.assertTrue(w.Warning.template.is_shown())
        w.template_edit.setText("{camera model}")
        self.assertFalse(w.Warning.template.is_shown())
        # a new input without that column warns again
        domain = self.photos.domain
        self.send_signal(w.Inputs.data, self.photos.transform(
            Domain(domain.attributes, metas=[domain["image"]])))
        self.assertTrue(w.Warning.template.is_shown())

    def test_column_list_inserts_a_column(self):
        w = self.widget
        self.assertFalse(w.column_combo.isEnabled())
        self.send_signal(w.Inputs.data, self.photos)
        items = [w.column_combo.itemText(i) for i in range(w.column_combo.count())]
        self.assertIn("camera model", items)
        self.assertIn("image name", items)
        w.template_edit.setText("Photo ")
        simulate.combobox_activate_index(w.column_combo, items.index("camera model"))
        self.assertEqual(w.template_edit.text(), "Photo {camera model}")
        self.assertEqual(w.name_template, "Photo {camera model}")
        self.assertEqual(w.column_combo.currentIndex(), 0)
        root = ET.parse(self._save("named.kml")).getroot()
        names = {p.findtext(f"{KML}name") for p in root.iter(f"{KML}Placemark")}
        models = {m for m, lat in zip(self.photos.get_column("camera model"),
                                      self.photos.get_column("latitude")) if lat == lat}
        self.assertEqual(names, {f"Photo {m}" for m in models})

    def test_enter_in_the_template_does_not_press_save(self):
        w = self.widget
        asked = []
        w.save_file_as = lambda: asked.append(True)  # the file dialog, had Save been pressed
        self.send_signal(w.Inputs.data, self.photos)
        w.show()
        w.template_edit.setFocus()
        w.template_edit.setText("{image name}")
        QTest.keyClick(w.template_edit, Qt.Key_Return)
        QTest.keyClick(w.template_edit, Qt.Key_Enter)
        self.assertEqual(asked, [])
        self.assertEqual(w.name_template, "{image name}")
        w.hide()

    def test_confirmation_is_shown_beside_a_warning(self):
        w = self.widget
        w.filename, w.auto_save = os.path.join(self.folder, "photos.kmz"), True
        self.send_signal(w.Inputs.data, self.photos)
        self.wait_until_finished(timeout=60_000)
        self.assertTrue(w.Warning.without_position.is_shown())
        self.assertIn(f"Saved 8 placemarks to {w.filename}", w.info_label.text())
        # the message bar shows the warning alone: no "(1 message)" that cuts it
        self.assertEqual([str(m) for m in w.Information.active], [])

    def test_kmz_is_named_after_the_file_not_the_channel(self):
        path = os.path.join(self.folder, "venice trip.kmz")
        self.widget.filename, self.widget.auto_save = path, True
        self.send_signal(self.widget.Inputs.data, self.photos)
        self.wait_until_finished(timeout=60_000)
        with zipfile.ZipFile(path) as kmz:
            root = ET.fromstring(kmz.read("doc.kml"))
        self.assertEqual(root.find(f"{KML}Document/{KML}name").text, "venice trip")

    def test_balloons_show_a_copied_column_once(self):
        self.assertIn("width (1)", [v.name for v in self.photos.domain.metas])
        self.send_signal(self.widget.Inputs.data, self.photos)
        root = ET.parse(self._save("balloons.kml")).getroot()
        for description in root.iter(f"{KML}description"):
            self.assertEqual(description.text.count("<th align='left'>width</th>"), 1)
            self.assertNotIn("width (1)", description.text)
            self.assertNotIn("height (1)", description.text)

    def test_a_copy_with_other_values_stays(self):
        data = self.photos.copy()
        with data.unlocked(data.metas):
            data.metas[:, data.domain.metas.index(data.domain["width (1)"])] = 1.0
        self.send_signal(self.widget.Inputs.data, data)
        root = ET.parse(self._save("differs.kml")).getroot()
        description = next(root.iter(f"{KML}description")).text
        self.assertIn("width (1)", description)
        self.assertNotIn("height (1)", description)
