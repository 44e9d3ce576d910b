"""Reverse Geocode with "Ask Nominatim online" on a machine that cannot reach it: the
endpoint is a dead or stalling address on 127.0.0.1 (GEOPHOTO_NOMINATIM_URL)."""
import os
import socket
import threading

import numpy as np
from Orange.data import ContinuousVariable, Domain, Table
from Orange.widgets.tests.base import WidgetTest

from orangecontrib.geophoto.geocode import reverse_geocode_table
from orangecontrib.geophoto.geocode.online import URL_VARIABLE
from orangecontrib.geophoto.widgets.owreversegeocode import OWReverseGeocode


def _points():
    domain = Domain([ContinuousVariable("latitude"), ContinuousVariable("longitude")])
    return Table.from_numpy(domain, np.array([[45.4341, 12.3388], [43.4633, 11.8796],
                                              [51.5007, -0.1246], [np.nan, np.nan]]))


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TestOfflineFallback(WidgetTest):
    def setUp(self):
        self.old_url = os.environ.get(URL_VARIABLE)
        os.environ[URL_VARIABLE] = f"http://127.0.0.1:{_dead_port()}"
        self.widget = self.create_widget(OWReverseGeocode)

    def tearDown(self):
        if self.old_url is None:
            os.environ.pop(URL_VARIABLE, None)
        else:
            os.environ[URL_VARIABLE] = self.old_url
        super().tearDown()

    def test_unreachable_nominatim_falls_back_to_offline_names(self):
        self.assertFalse(self.widget.language_combo.isEnabled())  # online is off
        self.widget.controls.online.click()
        self.assertTrue(self.widget.language_combo.isEnabled())
        data = _points()
        self.send_signal(self.widget.Inputs.data, data)
        out = self.get_output(self.widget.Outputs.data, wait=60_000)
        self.assertIsNotNone(out)
        self.assertFalse(self.widget.Error.failed.is_shown())
        offline = reverse_geocode_table(data)
        for column in ("country", "admin1", "admin2", "place"):
            self.assertEqual(list(out.get_column(column)), list(offline.get_column(column)))
        warning = self.widget.Warning.unreachable
        self.assertTrue(warning.is_shown())
        self.assertTrue(warning.formatted.startswith("Nominatim unreachable: offline names"))
        self.assertNotIn("\n", warning.formatted)
        self.assertNotIn("45.43", warning.formatted)
        self.assertFalse(self.widget.language_combo.isEnabled())  # offline after all
        self.assertIn("offline names", self.widget.info_label.text())
        self.assertFalse(self.widget.cancel_button.isEnabled())
        self.widget.controls.online.click()  # offline by choice: no warning left
        self.get_output(self.widget.Outputs.data, wait=60_000)
        self.assertFalse(warning.is_shown())
        self.assertFalse(self.widget.language_combo.isEnabled())

    def test_cancel_a_stalled_request(self):
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        server.settimeout(30)  # stops by itself
        held = []

        def accept():
            try:
                while True:
                    held.append(server.accept()[0])
            except OSError:
                pass

        threading.Thread(target=accept, daemon=True).start()
        os.environ[URL_VARIABLE] = f"http://127.0.0.1:{server.getsockname()[1]}"
        try:
            self.widget.online = True
            self.send_signal(self.widget.Inputs.data, _points())
            self.assertTrue(self.widget.cancel_button.isEnabled())
            self.widget.cancel_button.click()
            self.assertFalse(self.widget.cancel_button.isEnabled())
            self.assertIsNone(self.get_output(self.widget.Outputs.data))
            self.assertIn("Cancelled", self.widget.info_label.text())
            self.assertIsNone(self.widget.task)
        finally:
            for conn in held:
                conn.close()
            server.close()


class TestMessages(WidgetTest):
    def test_every_message_fits_the_default_width(self):
        from tests.widgets.test_owexifgeotag_ui import assert_messages_fit
        widget = self.create_widget(OWReverseGeocode)
        checked = assert_messages_fit(self, widget, {"invalid": ("2,387 rows",)})
        self.assertIn("unreachable", checked)
