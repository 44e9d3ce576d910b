"""EXIF Geotag read rate vs exiftool, steady state (start-up cancelled).

Writes GPS into copies of the Venice photos (../shared/data/venice), then times
``read_geotags`` and ``exiftool -n -csv`` on two folder sizes each; the rate is
(files_big - files_small) / (time_big - time_small), so start-up and imports cancel.

    .venv/bin/python bench/bench_exif.py [--big 10000]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from orangecontrib.geophoto.exif import read_geotags  # noqa: E402
from tests.exif_fixtures import gps_ifd, venice_labels, write_exif  # noqa: E402
from tests.conftest import VENICE  # noqa: E402


def make_folder(root, n, rows):
    folder = os.path.join(root, f"n{n}")
    os.makedirs(folder)
    for i in range(n):
        name, lat, lon = rows[i % len(rows)]
        dst = os.path.join(folder, f"{i:05d}.jpg")
        shutil.copyfile(os.path.join(VENICE, "images", name), dst)
        write_exif(dst, gps=gps_ifd(lat, lon, altitude=2.0))
    return folder


def time_ours(folder):
    paths = sorted(os.path.join(folder, f) for f in os.listdir(folder))
    start = time.perf_counter()
    tags = read_geotags(paths)
    elapsed = time.perf_counter() - start
    assert all(t.has_position for t in tags)
    return elapsed


def time_exiftool(folder):
    start = time.perf_counter()
    subprocess.run(["exiftool", "-n", "-csv", "-GPSLatitude", "-GPSLongitude", "-GPSAltitude",
                    "-DateTimeOriginal", "-Make", "-Model", folder],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--big", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=500)
    args = parser.parse_args()
    rows = venice_labels()
    have_exiftool = shutil.which("exiftool") is not None
    with tempfile.TemporaryDirectory() as root:
        sizes = (args.small, len(rows), args.big)
        folders = {n: make_folder(root, n, rows) for n in sizes}
        ours = {n: min(time_ours(folders[n]) for _ in range(2)) for n in sizes}
        theirs = {n: time_exiftool(folders[n]) for n in sizes} if have_exiftool else {}
    print(f"load: {os.getloadavg()[0]:.2f}")
    print(f"{'files':>8} {'geophoto s':>11} {'exiftool s':>11}")
    for n in sizes:
        print(f"{n:>8} {ours[n]:>11.3f} {theirs.get(n, float('nan')):>11.3f}")
    for big in sizes[1:]:
        d = big - args.small
        rate_ours = d / (ours[big] - ours[args.small])
        line = f"steady state {args.small}->{big}: geophoto {rate_ours:,.0f} files/s"
        if theirs:
            rate_theirs = d / (theirs[big] - theirs[args.small])
            line += f", exiftool {rate_theirs:,.0f} files/s, ratio {rate_ours / rate_theirs:.1f}x"
        print(line)


if __name__ == "__main__":
    main()
