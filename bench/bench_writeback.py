"""Write Geotags rate per mode vs ``exiftool -geotag``, on the same photos and track.

Copies N Venice photos (../shared/data/venice) with a DateTimeOriginal (+02:00) one minute
apart, and a GPX track through their labelled positions at those times. EXIF Geotag places
them from the track (not timed); then, each on a fresh copy of the folder:

- geophoto ``write_geotags`` (in process) in each mode: sidecar, copy, inplace (with backup);
- ``geophoto write TABLE`` as a command (start-up and reading the table included);
- exiftool 12.57 ``-geotag track.gpx`` writing XMP sidecars (``-o %d%f.%e.xmp``), copies
  (``-o DIR/``) and in place (its ``_original`` backups; and ``-overwrite_original``).

Each tool's positions are read back (exiftool) and compared with the track's. Rates are
photos written per second of wall-clock time.

    .venv/bin/python bench/bench_writeback.py [--n 2000] [--repeat 1]
"""
import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from orangecontrib.geophoto.exif import geotag_table  # noqa: E402
from orangecontrib.geophoto.tables import table_from_paths, write_table  # noqa: E402
from orangecontrib.geophoto.track import Placement, track_from_gpx  # noqa: E402
from orangecontrib.geophoto.writeback import (  # noqa: E402
    WRITTEN, WriteOptions, rows_from_table, write_geotags,
)
from tests.exif_fixtures import venice_labels  # noqa: E402
from tests.test_writeback import timed_copies, write_gpx  # noqa: E402


def fresh(base, root, name):
    folder = os.path.join(root, name)
    shutil.copytree(base, folder)
    return folder


def check(paths, fixes, label):
    """Every photo's written position, read back by exiftool, is the track's (1e-6 deg)."""
    out = subprocess.run(["exiftool", "-n", "-j", "-GPSLatitude", "-GPSLongitude", *paths],
                         capture_output=True, text=True).stdout
    records = {os.path.basename(r["SourceFile"]): r for r in json.loads(out)}
    bad = 0
    for path, (_, lat, lon) in zip(paths, fixes):
        r = records.get(os.path.basename(path), {})
        if not (abs(r.get("GPSLatitude", 1e9) - lat) <= 1e-6
                and abs(r.get("GPSLongitude", 1e9) - lon) <= 1e-6):
            bad += 1
    if bad:
        print(f"  !! {label}: {bad} of {len(paths)} positions wrong or missing")
    return bad


def time_ours(base, root, rows, mode, fixes, k):
    folder = fresh(base, root, f"ours-{mode}-{k}")
    moved = [dataclasses.replace(r, path=os.path.join(folder, os.path.basename(r.path)))
             for r in rows]
    out_dir = os.path.join(root, f"ours-{mode}-{k}-out")
    start = time.perf_counter()
    results = write_geotags(moved, WriteOptions(mode=mode, out_dir=out_dir))
    elapsed = time.perf_counter() - start
    assert all(r.status == WRITTEN for r in results), {r.status for r in results}
    check([r.target for r in results], fixes, f"geophoto {mode}")
    return elapsed


def time_cli(base, root, table, mode, k):
    folder = fresh(base, root, f"cli-{mode}-{k}")
    moved = os.path.join(root, f"cli-{mode}-{k}.pkl")
    image = table.domain["image"]
    copy = table.copy()
    with copy.unlocked(copy.metas):
        column = list(table.domain.metas).index(image)
        copy.metas[:, column] = [os.path.join(folder, os.path.basename(p))
                                 for p in table.metas[:, column]]
    write_table(copy, moved)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "orangecontrib.geophoto.cli", "-q", "write", moved,
                    "--mode", mode, "--out", os.path.join(root, f"cli-{mode}-{k}-out")],
                   check=True, env={**os.environ, "PYTHONPATH": ROOT})
    return time.perf_counter() - start


EXIFTOOL_MODES = {
    "sidecar": lambda folder, out: ["-o", "%d%f.%e.xmp", folder],
    "copy": lambda folder, out: ["-o", out + "/", folder],
    "inplace": lambda folder, out: [folder],
    "inplace, -overwrite_original": lambda folder, out: ["-overwrite_original", folder],
}


def time_exiftool(base, root, gpx, mode, fixes, k):
    folder = fresh(base, root, f"exiftool-{mode[:7]}-{k}-{len(mode)}")
    out = folder + "-out"
    names = sorted(f for f in os.listdir(folder) if f.endswith(".jpg"))
    start = time.perf_counter()
    subprocess.run(["exiftool", "-q", "-q", "-geotag", gpx,
                    "-geotime<${DateTimeOriginal}+02:00", *EXIFTOOL_MODES[mode](folder, out)],
                   check=True)
    elapsed = time.perf_counter() - start
    targets = {"sidecar": [os.path.join(folder, n + ".xmp") for n in names],
               "copy": [os.path.join(out, n) for n in names]}.get(
        mode, [os.path.join(folder, n) for n in names])
    check(targets, fixes, f"exiftool {mode}")
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    labels = venice_labels()[:args.n]
    with tempfile.TemporaryDirectory() as root:
        base = os.path.join(root, "base")
        names = [f"{k:05d}.jpg" for k in range(len(labels))]
        paths, fixes = timed_copies(base, labels, names=names)
        gpx = write_gpx(os.path.join(root, "track.gpx"), fixes)
        table = geotag_table(table_from_paths(paths), placement=Placement(track_from_gpx(gpx)))
        rows = rows_from_table(table)
        n = len(rows)
        results = []
        for k in range(args.repeat):
            for mode in ("sidecar", "copy", "inplace"):
                results.append((f"geophoto write_geotags, {mode}",
                                time_ours(base, root, rows, mode, fixes, k)))
            for mode in ("sidecar", "copy", "inplace"):
                results.append((f"geophoto write (command), {mode}",
                                time_cli(base, root, table, mode, k)))
            for mode in EXIFTOOL_MODES:
                results.append((f"exiftool -geotag, {mode}",
                                time_exiftool(base, root, gpx, mode, fixes, k)))
    print(f"{n} photos; load: {os.getloadavg()[0]:.2f}")
    print(f"{'run':<48} {'s':>7} {'photos/s':>9}")
    for label, seconds in results:
        print(f"{label:<48} {seconds:>7.2f} {n / seconds:>9.0f}")


if __name__ == "__main__":
    main()
