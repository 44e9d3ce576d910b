"""KML Export core: Google Earth KML/KMZ, GeoJSON, GeoParquet and GeoPackage, all streamed,
from any table with coordinates. No Qt.

Placemarks are named from a template over columns, carry a balloon with a thumbnail and a
table of chosen columns, sit in folders by a discrete column with distinct icon colours,
get a TimeStamp for Google Earth's time slider and, for predicted positions, their
uncertainty circle. A privacy option coarsens positions first. Writes are atomic: a failed
or cancelled export leaves no file behind, and an existing file is replaced only by a
complete one.

>>> from orangecontrib.geophoto.export import ExportOptions, export
>>> export(table, "photos.kmz", ExportOptions(name_template="{name} - {place}"))
"""
import os

from orangecontrib.geophoto.export.kml import (
    KML_EXTENSIONS, balloon_html, circle, make_thumbnail, write_kml,
)
from orangecontrib.geophoto.export.options import ExportOptions, ExportSummary
from orangecontrib.geophoto.export.privacy import coarsen
from orangecontrib.geophoto.export.table import placemark_names, positions
from orangecontrib.geophoto.export.vector import VECTOR_EXTENSIONS, write_vector

EXTENSIONS = KML_EXTENSIONS + tuple(VECTOR_EXTENSIONS)

__all__ = ["ExportOptions", "ExportSummary", "export", "write_kml", "write_vector",
           "positions", "placemark_names", "coarsen", "circle", "balloon_html",
           "make_thumbnail", "EXTENSIONS"]


def export(data, path: str, options: ExportOptions = None, on_progress=None,
           should_stop=None) -> ExportSummary:
    """Write by extension: .kml, .kmz, .geojson (.json), .parquet (GeoParquet) or .gpkg."""
    ext = os.path.splitext(path)[1].lower()
    if ext in KML_EXTENSIONS:
        return write_kml(data, path, options, on_progress, should_stop)
    if ext in VECTOR_EXTENSIONS:
        return write_vector(data, path, options, on_progress, should_stop)
    raise ValueError(f"{path}: choose a .kml, .kmz, .geojson, .parquet or .gpkg file")
