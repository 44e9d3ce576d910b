"""Reverse Geocode on the ground truth users check first: admin1 is the first-level
division (a region, state, nation), admin2 the next (a province, county, département), in
every country; and the online path fails fast, in one line, without leaking coordinates."""
import os
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from Orange.data import ContinuousVariable, Domain, Table

from orangecontrib.geophoto.geocode import (
    ADMIN1, ADMIN2, COUNTRY_CODE, reverse_geocode, reverse_geocode_table,
)
from orangecontrib.geophoto.geocode.online import NominatimUnreachable, OnlineGeocoder
from orangecontrib.geophoto.geocode.places import places
from orangecontrib.geophoto.tables import write_table
from tests.conftest import ROOT

# landmarks: (latitude, longitude), country code, admin1, admin2 (None: not asserted)
LANDMARKS = {
    "St Mark's Square, Venice": ((45.4341, 12.3388), "IT", "Veneto", "Provincia di Venezia"),
    "Eiffel Tower, Paris": ((48.8584, 2.2945), "FR", "Ile-de-France", "Paris"),
    "Piazza Grande, Arezzo": ((43.4633, 11.8796), "IT", "Tuscany", "Province of Arezzo"),
    "Big Ben, London": ((51.5007, -0.1246), "GB", "England", "Greater London"),
    "Edinburgh Castle": ((55.9486, -3.1999), "GB", "Scotland", "Edinburgh"),
    "Puerta del Sol, Madrid": ((40.4168, -3.7038), "ES", "Madrid", "Provincia de Madrid"),
    "Grand-Place, Brussels": ((50.8467, 4.3525), "BE", "Brussels Capital",
                              "Bruxelles-Capitale"),
    "Empire State Building, New York": ((40.7484, -73.9857), "US", "New York", "New York"),
    "Los Angeles City Hall": ((34.0537, -118.2428), "US", "California", "Los Angeles"),
    "Praça da Sé, São Paulo": ((-23.5505, -46.6333), "BR", "São Paulo", "Sao Paulo"),
    "Tokyo Tower": ((35.6586, 139.7454), "JP", "Tokyo", None),
    "Sydney Town Hall": ((-33.8732, 151.2061), "AU", "New South Wales", "City of Sydney"),
    "Nairobi CBD": ((-1.2864, 36.8172), "KE", "Nairobi", None),
    "Cape Town City Hall": ((-33.9258, 18.4232), "ZA", "Western Cape",
                            "City of Cape Town"),
    "Mumbai": ((19.0760, 72.8777), "IN", "Maharashtra", None),
}


def test_landmarks_on_every_continent_get_first_and_second_level():
    names = list(LANDMARKS)
    lat = np.array([LANDMARKS[n][0][0] for n in names])
    lon = np.array([LANDMARKS[n][0][1] for n in names])
    result = reverse_geocode(lat, lon)
    for i, name in enumerate(names):
        _, code, admin1, admin2 = LANDMARKS[name]
        got = (result[COUNTRY_CODE][i], result[ADMIN1][i], result[ADMIN2][i])
        assert got[:2] == (code, admin1), name
        if admin2 is not None:
            assert got[2] == admin2, name


def test_admin1_agrees_with_geonames_where_natural_earth_has_provinces():
    # every GeoNames place of countries whose Natural Earth "admin-1" are provinces,
    # départements or counties: geocoded at its own position, its admin1 is GeoNames'
    gazetteer = places()
    for code in ("IT", "FR", "GB", "ES", "BE", "IE"):
        rows = np.flatnonzero(gazetteer.country_code == code)
        result = reverse_geocode(gazetteer.latitude[rows], gazetteer.longitude[rows])
        # places on borders and coasts may fall abroad; some have no admin1 or admin2
        mine = (result[COUNTRY_CODE] == code) & (gazetteer.admin1[rows] != "")
        agree = np.mean(result[ADMIN1][mine] == gazetteer.admin1[rows][mine])
        assert agree > 0.97, (code, agree)
        mine &= gazetteer.admin2[rows] != ""
        agree = np.mean(result[ADMIN2][mine] == gazetteer.admin2[rows][mine])
        assert agree > 0.9, (code, agree)


def _dead_port() -> int:
    """A port on 127.0.0.1 that nobody listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _StallingServer:
    """Accepts connections on 127.0.0.1 and never answers; stops by itself."""

    def __init__(self, lifetime=30):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.socket.settimeout(lifetime)
        self.port = self.socket.getsockname()[1]
        self.held = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        try:
            while True:
                self.held.append(self.socket.accept()[0])
        except OSError:
            pass

    def close(self):
        for conn in self.held:
            conn.close()
        self.socket.close()


def _table(rows=((45.4341, 12.3388), (43.4633, 11.8796))):
    domain = Domain([ContinuousVariable("latitude"), ContinuousVariable("longitude")])
    return Table.from_numpy(domain, np.array(rows))


@pytest.mark.parametrize("endpoint", ["refused", "stalled", "unresolvable"])
def test_unreachable_nominatim_fails_fast_without_coordinates(endpoint):
    server = _StallingServer() if endpoint == "stalled" else None
    url = {"refused": f"http://127.0.0.1:{_dead_port()}",
           "stalled": f"http://127.0.0.1:{server.port if server else 0}",
           "unresolvable": "https://nominatim.invalid"}[endpoint]
    try:
        geocoder = OnlineGeocoder(url=url, timeout=2)
        with pytest.raises(NominatimUnreachable) as caught:
            reverse_geocode_table(_table(), online=True, geocoder=geocoder)
        message = str(caught.value)
        assert "\n" not in message and "45.43" not in message and "12.33" not in message
        assert geocoder.requests <= 1  # no retries when the network is down
        # the caller may keep the offline names instead
        warned = []
        out = reverse_geocode_table(_table(), online=True, geocoder=geocoder,
                                    on_unreachable=warned.append)
        assert list(out.get_column(ADMIN1)) == ["Veneto", "Tuscany"]
        assert len(warned) == 1 and "45.43" not in str(warned[0]) and warned[0].reason
    finally:
        if server:
            server.close()


def test_cli_online_without_network_is_one_line_and_exit_1(tmp_path):
    table = str(tmp_path / "points.csv")
    write_table(_table(), table)
    env = {**os.environ, "PYTHONPATH": ROOT,
           "GEOPHOTO_NOMINATIM_URL": f"http://127.0.0.1:{_dead_port()}"}
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "orangecontrib.geophoto.cli", "geocode",
                           table, "--online", "-o", str(tmp_path / "out.csv")],
                          capture_output=True, text=True, env=env, timeout=120)
    took = time.monotonic() - start
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("geophoto geocode: error: Nominatim")
    assert "45.43" not in done.stderr and "12.33" not in done.stderr
    assert "Traceback" not in done.stderr
    assert not os.path.exists(tmp_path / "out.csv")
    print(f"failed after {took:.1f} s")
