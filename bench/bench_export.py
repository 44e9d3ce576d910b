"""KML Export speed: a KMZ of 10,000 placemarks with 256 px thumbnails (goal: under 60 s),
and memory: a streamed KML of 1,000,000 placemarks within 1 GB peak RSS.

Two photo sets, each cycled to the row count (every row gets its own thumbnail; nothing is
cached between rows):
  venice  the Venice photos as they are (../shared/data/venice, 320 px JPEGs);
  12mp    phone-sized 4000x3000 JPEGs made from them (the realistic case: decoding
          dominates, Pillow's JPEG draft mode decodes at 1/8 scale).
Positions, UTC times and labels are put in the table directly, so only the export is timed.
The KMZ is read back with GDAL to check one point per row.

``--stream``: a plain KML (balloons link the photos on disk, a time line), a GeoJSON and
a GeoParquet file (``--formats``) of ``--rows`` rows, each exported in a child process that
reports its peak RSS (``ru_maxrss``) after building the table (the baseline: Python,
Orange and the table itself) and after the export (the peak over the whole call); each
file is then read back incrementally to count its points.

    .venv/bin/python bench/bench_export.py [--rows 10000] [--size 256] [--sets venice 12mp]
    .venv/bin/python bench/bench_export.py --stream --rows 1000000 [--formats kml geojson parquet]
"""
import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from Orange.data import ContinuousVariable, StringVariable, TimeVariable  # noqa: E402

from orangecontrib.geophoto.export import ExportOptions, export  # noqa: E402
from orangecontrib.geophoto.tables import append_columns, table_from_paths  # noqa: E402
from tests.conftest import VENICE  # noqa: E402


def venice_rows():
    with open(os.path.join(VENICE, "labels.csv"), encoding="utf-8") as f:
        return [(os.path.join(VENICE, "images", r["image"]), float(r["latitude"]),
                 float(r["longitude"])) for r in csv.DictReader(f)]


def big_photos(rows, folder, count=40):
    """Phone-sized JPEGs (4000x3000, quality 90) from the first Venice photos."""
    from PIL import Image
    made = []
    for i, (path, lat, lon) in enumerate(rows[:count]):
        target = os.path.join(folder, f"big{i:03d}.jpg")
        with Image.open(path) as im:
            im.convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC) \
                .save(target, quality=90)
        made.append((target, lat, lon))
    return made


def table(rows, n):
    picked = [rows[i % len(rows)] for i in range(n)]
    data = table_from_paths([p for p, _, _ in picked], "bench")
    rng = np.random.default_rng(0)
    times = 1.6e9 + np.sort(rng.uniform(0, 3e7, n))
    return append_columns(
        data,
        attributes=[(ContinuousVariable("latitude"), [lat for _, lat, _ in picked]),
                    (ContinuousVariable("longitude"), [lon for _, _, lon in picked]),
                    (TimeVariable("time (UTC)", have_date=1, have_time=1), times)],
        metas=[(StringVariable("place"), ["Venice"] * n),
               (StringVariable("name"), ["gondola / dock"] * n)])


def run(name, rows, n, size, folder):
    import pyogrio
    data = table(rows, n)
    path = os.path.join(folder, f"{name}.kmz")
    start = time.perf_counter()
    summary = export(data, path, ExportOptions(thumbnail_size=size, time_line=True))
    elapsed = time.perf_counter() - start
    points = pyogrio.read_dataframe(f"/vsizip/{path}/doc.kml")
    assert (points.geometry.geom_type == "Point").sum() == n == summary.placemarks
    return elapsed, os.path.getsize(path)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def rss_now_mib() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def reset_peak() -> bool:
    """Start the peak RSS afresh (Linux: clear_refs 5 resets the high-water mark), so the
    peak measured is the export call's, not the table building's."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def stream_child(n, path):
    """In a fresh process: build the table and note its RSS, then export and note the
    peak RSS over the export call."""
    data = table(venice_rows(), n)
    building, baseline, reset = peak_rss_mib(), rss_now_mib(), reset_peak()
    start = time.perf_counter()
    summary = export(data, path, ExportOptions(time_line=True))
    elapsed = time.perf_counter() - start
    print(json.dumps({"building": building, "baseline": baseline, "peak": peak_rss_mib(),
                      "reset": reset, "seconds": elapsed,
                      "placemarks": summary.placemarks}))


def count_placemarks(path) -> int:
    from lxml import etree
    count = 0
    for _, element in etree.iterparse(path, tag="{http://www.opengis.net/kml/2.2}Point",
                                      huge_tree=True):  # the time line is one long text
        count += 1
        element.clear()
    return count


def count_features(path) -> int:
    """Points in a GeoJSON (one feature a line, each parsed), a GeoParquet file (row
    group by row group, WKB read by shapely) or a GeoPackage (GDAL)."""
    if path.endswith(".gpkg"):
        import pyogrio
        return pyogrio.read_info(path, force_feature_count=True)["features"]
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq
        import shapely
        count, parquet = 0, pq.ParquetFile(path)
        for group in range(parquet.metadata.num_row_groups):
            wkb = parquet.read_row_group(group, columns=["geometry"]).column(0)
            points = shapely.from_wkb(wkb.to_numpy(zero_copy_only=False))
            assert (shapely.get_type_id(points) == 0).all()  # Point
            count += len(points)
        return count
    count = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.replace(" ", "").startswith('{"type":"Feature"'):  # ours or GDAL's
                feature = json.loads(line.rstrip().rstrip(","))
                assert feature["geometry"]["type"] == "Point"
                count += 1
    return count


def stream(n, formats):
    print("| format | rows | file | seconds | table alone: RSS | export call: peak RSS |")
    print("|---|---|---|---|---|---|")
    for fmt in formats:
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, f"stream.{fmt}")
            done = subprocess.run([sys.executable, __file__, "--child", str(n), path],
                                  capture_output=True, text=True, check=True)
            result = json.loads(done.stdout.strip().splitlines()[-1])
            points = count_placemarks(path) if fmt == "kml" else count_features(path)
            assert points == n == result["placemarks"], (points, result)
            size = os.path.getsize(path)
        print(f"| {fmt} | {n:,} | {size / 2**20:,.1f} MiB | {result['seconds']:.0f} | "
              f"{result['baseline']:,.0f} MiB | {result['peak']:,.0f} MiB"
              f"{'' if result['reset'] else ' (peak since start: no clear_refs)'} |",
              flush=True)
    print(f"(cpus: {os.cpu_count()}, load: {os.getloadavg()[0]:.2f})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--sets", nargs="+", default=["venice", "12mp"])
    parser.add_argument("--stream", action="store_true",
                        help="peak memory of a KML, GeoJSON and GeoParquet of --rows rows")
    parser.add_argument("--formats", nargs="+", default=["kml", "geojson", "parquet"],
                        choices=["kml", "geojson", "parquet", "gpkg"])
    parser.add_argument("--child", nargs=2, metavar=("ROWS", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return stream_child(int(args.child[0]), args.child[1])
    if args.stream:
        return stream(args.rows, args.formats)
    rows = venice_rows()
    print("| photos | rows | thumbnails | seconds | placemarks/s | KMZ size |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for name in args.sets:
            photos = rows if name == "venice" else big_photos(rows, folder)
            elapsed, size = run(name, photos, args.rows, args.size, folder)
            print(f"| {name} | {args.rows:,} | {args.size} px | {elapsed:.1f} | "
                  f"{args.rows / elapsed:,.0f} | {size / 2**20:.0f} MiB |", flush=True)
    print(f"(cpus: {os.cpu_count()}, load: {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
