"""Reverse Geocode core: real boundaries and GeoNames places, offline; Nominatim against a
fake server on loopback."""
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest
from Orange.data import ContinuousVariable, Domain, StringVariable, Table

from orangecontrib.geophoto.geocode import (
    ADMIN1, COUNTRY, COUNTRY_CODE, PLACE, PLACE_DISTANCE, data_sources, reverse_geocode,
    reverse_geocode_table,
)
from orangecontrib.geophoto.geocode.online import OnlineGeocoder
from orangecontrib.geophoto.geocode.places import places
from tests.exif_fixtures import venice_labels


def test_real_cities_get_their_country_region_and_place():
    # capitals' coordinates from the GeoNames file itself, never typed in
    gazetteer = places()
    wanted = {"Ljubljana": "SI", "Lisbon": "PT", "Nairobi": "KE", "Canberra": "AU"}
    rows = [int(np.flatnonzero((gazetteer.name == n) & (gazetteer.country_code == cc))[0])
            for n, cc in wanted.items()]
    result = reverse_geocode(gazetteer.latitude[rows], gazetteer.longitude[rows])
    assert list(result[PLACE]) == list(wanted)
    assert list(result[COUNTRY_CODE]) == list(wanted.values())
    assert all(result[ADMIN1])
    assert (result[PLACE_DISTANCE] < 0.01).all()


def test_venice_photos_are_in_italy_despite_the_lagoon(venice):
    rows = venice_labels(n=200)
    lat = np.array([r[1] for r in rows])
    lon = np.array([r[2] for r in rows])
    result = reverse_geocode(lat, lon)
    assert set(result[COUNTRY]) == {"Italy"}
    assert set(result[COUNTRY_CODE]) == {"IT"}
    assert (result[PLACE_DISTANCE] < 10).all()


def test_sea_missing_and_out_of_range():
    result = reverse_geocode(np.array([0.0, np.nan, 91.0, 10.0, -35.0]),
                             np.array([-30.0, 12.0, 0.0, 181.0, -20.0]))
    assert list(result[COUNTRY]) == ["", "", "", "", ""]
    assert result[PLACE][0] and result[PLACE_DISTANCE][0] > 100  # at sea: nearest place
    assert list(result[PLACE][1:4]) == ["", "", ""]
    assert np.isnan(result[PLACE_DISTANCE][1:4]).all()


def test_nearest_place_is_exact_on_the_sphere_near_the_antimeridian():
    gazetteer = places()
    lat, lon = np.array([-17.7, 65.5]), np.array([179.99, -179.99])
    index, distance = gazetteer.nearest(lat, lon)
    # brute force over every place: the same winner
    from orangecontrib.geophoto.geolocate.metrics import haversine_km
    for k in range(2):
        all_d = haversine_km(lat[k], lon[k], gazetteer.latitude, gazetteer.longitude)
        assert index[k] == int(np.argmin(all_d))
        assert distance[k] == pytest.approx(all_d.min(), rel=1e-6)


def test_table_keeps_rows_and_names_data_sources():
    lat, lon = ContinuousVariable("latitude"), ContinuousVariable("longitude")
    data = Table.from_numpy(Domain([lat, lon], metas=[StringVariable("country")]),
                            np.array([[45.4341, 12.3388], [np.nan, np.nan]]),
                            metas=np.array([["x"], ["y"]], dtype=object))
    out = reverse_geocode_table(data)
    assert len(out) == 2
    assert out.get_column("country (1)")[0] == "Italy"  # unique name beside the input's
    assert out.get_column("place")[1] == ""
    assert "Natural Earth" in data_sources() and "GeoNames" in data_sources()
    with pytest.raises(ValueError, match="latitude and longitude"):
        reverse_geocode_table(Table.from_numpy(Domain([lat]), np.zeros((1, 1))))


class _FakeNominatim(BaseHTTPRequestHandler):
    calls = []
    busy_first = 1

    def do_GET(self):  # noqa: N802
        type(self).calls.append((self.path, self.headers.get("User-Agent")))
        if type(self).busy_first > 0:
            type(self).busy_first -= 1
            self.send_response(429)
            self.send_header("Retry-After", "0")
            self.end_headers()
            return
        body = json.dumps({"lat": "45.43", "lon": "12.33", "display_name": "Venezia",
                           "address": {"city": "Venezia", "county": "Venezia",
                                       "state": "Veneto", "country": "Italia",
                                       "country_code": "it"}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_online_path_rate_limit_cache_retry_and_language():
    server = HTTPServer(("127.0.0.1", 0), _FakeNominatim)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        slept = []
        geocoder = OnlineGeocoder(language="it", domain=f"127.0.0.1:{server.server_port}",
                                  scheme="http", sleep=slept.append)
        lat, lon = ContinuousVariable("latitude"), ContinuousVariable("longitude")
        data = Table.from_numpy(Domain([lat, lon]),
                                np.array([[45.4341, 12.3388], [45.4341, 12.3388],
                                          [45.44, 12.33]]))
        out = reverse_geocode_table(data, online=True, geocoder=geocoder)
        assert list(out.get_column("place")) == ["Venezia"] * 3
        assert list(out.get_column("admin1")) == ["Veneto"] * 3
        assert out.get_column("country code")[0] == "IT"
        calls = _FakeNominatim.calls
        assert len(calls) == 3  # a 429, then two distinct points; the repeat is cached
        assert all("accept-language=it" in path for path, _ in calls)
        assert all(agent.startswith("Orange3-GeoPhoto") for _, agent in calls)
        assert slept and all(s > 0 for s in slept)  # waited between requests
    finally:
        server.shutdown()
