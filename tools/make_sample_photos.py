"""Build the bundled sample photos (workflows/photos) from
../shared/data/venice: copies of a few photos with the coordinates their authors recorded
written into GPS EXIF, plus illustrative capture times, and one photo left without GPS.

Run once by a maintainer; the output is committed. Not used at run time.
"""
import csv
import os
import shutil
import sys
from datetime import datetime, timedelta
from fractions import Fraction

import piexif

VENICE = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "venice")
OUT = os.path.join(os.path.dirname(__file__), "..", "workflows", "photos")
CHOSEN = ["0.jpg", "47.jpg", "74.jpg", "1268.jpg", "1538.jpg", "1808.jpg", "2078.jpg",
          "2348.jpg"]
WITHOUT_GPS = "1003.jpg"
START = datetime(2019, 5, 18, 9, 30, 0)


def dms(value):
    value = abs(value)
    d = int(value)
    m = int((value - d) * 60)
    s = Fraction((value - d - m / 60) * 3600).limit_denominator(10000)
    return ((d, 1), (m, 1), (s.numerator, s.denominator))


def main():
    with open(os.path.join(VENICE, "labels.csv"), encoding="utf-8") as f:
        labels = {r["image"]: r for r in csv.DictReader(f)}
    os.makedirs(OUT, exist_ok=True)
    for i, name in enumerate(CHOSEN + [WITHOUT_GPS]):
        src = os.path.join(VENICE, "images", name)
        dst = os.path.join(OUT, f"venice-{os.path.splitext(name)[0]}.jpg")
        shutil.copyfile(src, dst)
        taken = (START + timedelta(minutes=23 * i)).strftime("%Y:%m:%d %H:%M:%S")
        exif = {"0th": {piexif.ImageIFD.Make: b"Sample", piexif.ImageIFD.Model: b"Venice set"},
                "Exif": {piexif.ExifIFD.DateTimeOriginal: taken.encode(),
                         piexif.ExifIFD.OffsetTimeOriginal: b"+02:00"},
                "GPS": {}}
        if name != WITHOUT_GPS:
            lat, lon = float(labels[name]["latitude"]), float(labels[name]["longitude"])
            exif["GPS"] = {
                piexif.GPSIFD.GPSVersionID: (2, 3, 0, 0),
                piexif.GPSIFD.GPSLatitudeRef: b"N" if lat >= 0 else b"S",
                piexif.GPSIFD.GPSLatitude: dms(lat),
                piexif.GPSIFD.GPSLongitudeRef: b"E" if lon >= 0 else b"W",
                piexif.GPSIFD.GPSLongitude: dms(lon),
            }
        piexif.insert(piexif.dump(exif), dst)
        print(dst, file=sys.stderr)


if __name__ == "__main__":
    main()
