"""Point-in-polygon for countries, first- and second-level regions (no Qt).

Boundaries: Natural Earth 1:10m admin-0 countries and admin-1 states/provinces, and US
counties as admin-2, as simplified and shipped by orange3-geo (its ``geojson`` folder).

Natural Earth's "admin-1" is not one level everywhere: for Italy, France, the UK, Spain,
Belgium, Ireland... its polygons are provinces, départements or counties, one level below
the first-level divisions GeoNames (and ISO 3166-2) call admin1. ``AdminLevels`` finds out
per polygon from the GeoNames places inside it, so callers can name both levels right.

Fast for millions of points: a 0.5-degree grid says, per cell, "sea", "inside polygon k" or
"border"; only points in border cells are tested exactly (shapely STRtree). The grid is
derived from the polygons once; a copy for the pinned orange3-geo data ships in
``data/region_grids.npz`` and is rebuilt into the cache folder if the data differ.
"""
import glob
import hashlib
import json
import logging
import os
import threading
from functools import lru_cache
from typing import List, Optional

import numpy as np

log = logging.getLogger(__name__)
RESOLUTION = 0.5  # degrees per grid cell
# The shipped coastlines are simplified: a point this close to a polygon (e.g. Venice in its
# lagoon) still belongs to it. Farther out is sea.
COAST_TOLERANCE_KM = 2.0
SEA, BORDER = -1, -2
SHIPPED_GRIDS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data",
                             "region_grids.npz")
SOURCE = ("Natural Earth 1:10m admin-0 countries and admin-1 states/provinces, and US "
          "counties, as simplified and shipped by orange3-geo {version}")


def geojson_folder() -> str:
    import orangecontrib.geo
    return os.path.join(os.path.dirname(orangecontrib.geo.__file__), "geojson")


def source_description() -> str:
    try:
        from importlib.metadata import version
        geo_version = version("Orange3-Geo")
    except Exception:  # pylint: disable=broad-except
        geo_version = "(version unknown)"
    return SOURCE.format(version=geo_version)


def _files(level: int) -> List[str]:
    pattern = {0: "admin0.json", 1: "admin1-*.json", 2: "admin2-*.json"}[level]
    return sorted(glob.glob(os.path.join(geojson_folder(), pattern)))


def _fingerprint(files) -> str:
    digest = hashlib.sha1()
    for name in files:
        digest.update(f"{os.path.basename(name)}:{os.path.getsize(name)};".encode())
    return digest.hexdigest()


class RegionIndex:
    """Polygons of one admin level and their properties; ``lookup`` gives per point the
    index of the polygon containing it, or -1."""

    def __init__(self, level: int, grid: Optional[np.ndarray] = None):
        import shapely
        from shapely import STRtree
        self.level = level
        self.files = _files(level)
        self.properties, geometries = [], []
        for name in self.files:
            with open(name, encoding="utf-8") as f:
                for feature in json.load(f)["features"]:
                    if feature.get("geometry"):
                        self.properties.append(feature["properties"])
                        geometries.append(shapely.geometry.shape(feature["geometry"]))
        self.geometries = np.array(geometries, dtype=object)
        shapely.prepare(self.geometries)
        self.tree = STRtree(self.geometries)
        self.fingerprint = _fingerprint(self.files)
        self.grid = grid if grid is not None else self.build_grid()

    def build_grid(self) -> np.ndarray:
        """Per 0.5-degree cell: SEA, the one polygon that contains it, or BORDER."""
        import shapely
        nx, ny = int(360 / RESOLUTION), int(180 / RESOLUTION)
        x0 = np.tile(np.arange(nx) * RESOLUTION - 180, ny)
        y0 = np.repeat(np.arange(ny) * RESOLUTION - 90, nx)
        boxes = shapely.box(x0, y0, x0 + RESOLUTION, y0 + RESOLUTION)
        grid = np.full(nx * ny, SEA, dtype=np.int32)
        cells, _ = self.tree.query(boxes, predicate="intersects")
        grid[cells] = BORDER
        cells, polygons = self.tree.query(boxes, predicate="within")
        grid[cells] = polygons
        return grid.reshape(ny, nx)

    def lookup(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Polygon index per point (-1: in none). Expects finite, in-range coordinates."""
        import shapely
        ny, nx = self.grid.shape
        col = np.clip(((lon + 180) / RESOLUTION).astype(np.int64), 0, nx - 1)
        row = np.clip(((lat + 90) / RESOLUTION).astype(np.int64), 0, ny - 1)
        result = self.grid[row, col].copy()
        border = np.flatnonzero(result == BORDER)
        result[border] = SEA
        if len(border):
            points = shapely.points(lon[border], lat[border])
            hits, polygons = self.tree.query(points, predicate="intersects")
            # a point on a shared edge matches two polygons: keep the first, as sorted
            first = np.unique(hits, return_index=True)[1]
            result[border[hits[first]]] = polygons[first]
            near_coast = border[result[border] == SEA]
            if len(near_coast):
                self._snap_to_coast(near_coast, lon, lat, result)
        return result

    def _snap_to_coast(self, rows, lon, lat, result):
        """Points in border cells within COAST_TOLERANCE_KM of a polygon take it."""
        import shapely
        tolerance = COAST_TOLERANCE_KM / 111.32  # degrees of latitude
        points = shapely.points(lon[rows], lat[rows])
        # longitude degrees shrink with latitude: a generous bound in degrees, then km
        hits, polygons = self.tree.query(points, predicate="dwithin",
                                         distance=tolerance / 0.2)
        if not len(hits):
            return
        distance = shapely.distance(points[hits], self.geometries[polygons])
        scale = np.maximum(np.cos(np.radians(lat[rows][hits])), 0.2)
        close = distance * 111.32 * scale <= COAST_TOLERANCE_KM
        hits, polygons, distance = hits[close], polygons[close], distance[close]
        order = np.lexsort((distance, hits))  # per point, the nearest polygon first
        hits, polygons = hits[order], polygons[order]
        first = np.unique(hits, return_index=True)[1]
        hits, polygons = hits[first], polygons[first]
        close = np.ones(len(hits), dtype=bool)
        result[rows[hits[close]]] = polygons[close]


# A country whose polygons outnumber the GeoNames admin1 names they hold this much is
# divided one level finer than admin1 in Natural Earth (Italy: 110 provinces, 20 regions).
FINER_RATIO = 1.5
# A polygon is one unit of a GeoNames level when this share of its places agree on the name.
PURE_SHARE = 0.8


class AdminLevels:
    """Per Natural Earth admin-1 polygon (index -1 takes a trailing empty entry):

    - ``finer``: its country's polygons are second-level divisions (provinces...);
    - ``has_places``: GeoNames places of its country lie inside;
    - ``admin1``: the GeoNames admin1 name of the places inside ("" when none or mixed);
    - ``admin2``: for polygons of finer countries, their admin2 name in GeoNames' spelling
      ("Provincia di Venezia" for Venezia), else the polygon's own name.
    """

    def __init__(self, states: "RegionIndex", gazetteer):
        n = len(states.properties)
        names = [p.get("name") or "" for p in states.properties]
        iso = np.array([p.get("iso_a2") or "" for p in states.properties] + [""], dtype=object)
        adm0 = [p.get("adm0_a3") or "" for p in states.properties]
        polygon = states.lookup(gazetteer.longitude, gazetteer.latitude)
        inside = (polygon >= 0) & (iso[polygon] == gazetteer.country_code)
        polygon = polygon[inside]
        self.has_places = np.zeros(n + 1, dtype=bool)
        self.has_places[polygon] = True
        admin1 = _counts(polygon, gazetteer.admin1[inside])
        admin2 = _counts(polygon, gazetteer.admin2[inside])
        self.admin1 = np.array([_majority(admin1.get(k, {})) for k in range(n)] + [""],
                               dtype=object)
        counted, parents = {}, {}
        for k in np.flatnonzero(self.admin1[:-1] != ""):
            counted[adm0[k]] = counted.get(adm0[k], 0) + 1
            parents.setdefault(adm0[k], set()).add(self.admin1[k])
        finer_countries = {c for c in counted if counted[c] >= FINER_RATIO * len(parents[c])}
        self.finer = np.array([c in finer_countries for c in adm0] + [False])
        self.admin2 = np.full(n + 1, "", dtype=object)
        for k in np.flatnonzero(self.finer[:-1]):
            self.admin2[k] = _admin2_name(names[k], admin2.get(k, {}))


def _counts(polygon, names) -> dict:
    """{polygon: {name: number of places}}"""
    counts = {}
    for k, name in zip(polygon.tolist(), names.tolist()):
        counts.setdefault(k, {}).setdefault(name, 0)
        counts[k][name] += 1
    return counts


def _majority(by_name: dict) -> str:
    """The name most places carry, if at least PURE_SHARE of them do."""
    if not by_name:
        return ""
    name, count = max(by_name.items(), key=lambda item: item[1])
    return name if count >= PURE_SHARE * sum(by_name.values()) else ""


def _admin2_name(polygon_name: str, by_name: dict) -> str:
    """A province-level polygon's admin2: the GeoNames name that contains the polygon's
    (Venezia: Provincia di Venezia), else what nearly all its places say (a London
    borough: Greater London), else the polygon's own name."""
    folded = _fold(polygon_name)
    matching = [name for name in by_name if folded and folded in _fold(name)]
    if matching:
        return max(matching, key=by_name.get)
    return _majority(by_name) or polygon_name


def _fold(text: str) -> str:
    """Lower case without accents, for comparing Natural Earth and GeoNames spellings."""
    import unicodedata
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


_LEVELS_LOCK = threading.Lock()


def admin_levels() -> AdminLevels:
    """The levels of the admin-1 polygons, derived from the shipped data (about a second)."""
    with _LEVELS_LOCK:
        return _admin_levels()


@lru_cache(maxsize=1)
def _admin_levels() -> AdminLevels:
    from orangecontrib.geophoto.geocode.places import places
    return AdminLevels(region_index(1), places())


_LOCK = threading.Lock()


@lru_cache(maxsize=3)
def region_index(level: int) -> RegionIndex:
    """The index of an admin level, with its grid from the shipped file, the cache, or
    built now (seconds) and cached."""
    with _LOCK:
        fingerprint = _fingerprint(_files(level))
        for path in (SHIPPED_GRIDS, _cached_grids_path()):
            grid = _load_grid(path, level, fingerprint)
            if grid is not None:
                return RegionIndex(level, grid)
        index = RegionIndex(level)
        _save_grid(_cached_grids_path(), level, index)
        return index


def _cached_grids_path() -> str:
    from Orange.misc.environ import cache_dir
    return os.path.join(cache_dir(), "geophoto-region-grids.npz")


def _load_grid(path, level, fingerprint) -> Optional[np.ndarray]:
    try:
        with np.load(path) as stored:
            if str(stored[f"fingerprint{level}"]) == fingerprint:
                return stored[f"grid{level}"]
    except (OSError, KeyError, ValueError):
        pass
    return None


def _save_grid(path, level, index: RegionIndex) -> None:
    try:
        existing = dict(np.load(path)) if os.path.exists(path) else {}
        existing[f"grid{level}"] = index.grid
        existing[f"fingerprint{level}"] = np.array(index.fingerprint)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        np.savez_compressed(path, **existing)
    except OSError as ex:
        log.warning("region grid not cached: %s", ex)


def build_shipped_grids(path: str = SHIPPED_GRIDS) -> None:
    """Write the grids of all levels (run by a maintainer: tools/build_region_grids.py)."""
    arrays = {}
    for level in (0, 1, 2):
        index = RegionIndex(level)
        arrays[f"grid{level}"] = index.grid.astype(np.int16 if len(index.geometries) < 32000
                                                   else np.int32)
        arrays[f"fingerprint{level}"] = np.array(index.fingerprint)
    np.savez_compressed(path, **arrays)
