"""Build the bundled sample photos from ../shared/data/venice: copies of a few photos with
the coordinates their authors recorded written into GPS EXIF, plus illustrative capture times.

- ``workflows/photos``: nine photos, one left without GPS (the demo, Google Earth example).
- ``workflows/places/<place>``: eight photos of each of four Venice places, a folder per place
  (the Lobe-style classification and place recognition examples). A photo belongs to a place
  when its recorded position is near the landmark (San Marco 80 m, Rialto and Salute 100 m,
  Murano island 1.5 km). Among those, the photos were chosen as typical views: ones that a
  logistic regression on SqueezeNet embeddings of all other Venice photos of these places
  assigned to their own place out of fold (so the example teaches, rather than shows noise).
- ``workflows/new-photos``: one more photo of each place and one San Marco photo without GPS,
  "new" photos to predict.
- ``workflows/swipes/liked|disliked``: eight more photos, rated as a user might in a swipe
  app (liking Rialto and Murano), for the place-ranking example.

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
PLACES = {
    "san-marco": ["2107", "31", "311", "364", "1842", "924", "2127", "1857"],
    "rialto": ["1901", "1351", "2094", "2237", "315", "876", "2093", "2251"],
    "salute": ["273", "328", "1452", "177", "969", "1463", "1451", "490"],
    "murano": ["1983", "1984", "573", "92", "1971", "1987", "88", "1986"],
}
NEW = ["1925", "1710", "1448", "1982"]
NEW_WITHOUT_GPS = "196"
SWIPES = {"liked": ["548", "1913", "963", "90"], "disliked": ["198", "634", "1635", "10"]}
START = datetime(2019, 5, 18, 9, 30, 0)


def dms(value):
    value = abs(value)
    d = int(value)
    m = int((value - d) * 60)
    s = Fraction((value - d - m / 60) * 3600).limit_denominator(10000)
    return ((d, 1), (m, 1), (s.numerator, s.denominator))


def write_photo(labels, name, dst, taken, with_gps=True):
    """Copy ``name`` from the Venice set to ``dst`` with GPS (when asked) and time EXIF."""
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copyfile(os.path.join(VENICE, "images", name), dst)
    exif = {"0th": {piexif.ImageIFD.Make: b"Sample", piexif.ImageIFD.Model: b"Venice set"},
            "Exif": {piexif.ExifIFD.DateTimeOriginal: taken.strftime("%Y:%m:%d %H:%M:%S")
                     .encode(),
                     piexif.ExifIFD.OffsetTimeOriginal: b"+02:00"},
            "GPS": {}}
    if with_gps:
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


def main():
    with open(os.path.join(VENICE, "labels.csv"), encoding="utf-8") as f:
        labels = {r["image"]: r for r in csv.DictReader(f)}
    for i, name in enumerate(CHOSEN + [WITHOUT_GPS]):
        dst = os.path.join(OUT, f"venice-{os.path.splitext(name)[0]}.jpg")
        write_photo(labels, name, dst, START + timedelta(minutes=23 * i),
                    with_gps=name != WITHOUT_GPS)
    workflows = os.path.dirname(OUT)
    taken = START + timedelta(days=1)
    for place, numbers in PLACES.items():
        for number in numbers:
            taken += timedelta(minutes=7)
            write_photo(labels, f"{number}.jpg",
                        os.path.join(workflows, "places", place, f"{place}-{number}.jpg"), taken)
    for number in NEW + [NEW_WITHOUT_GPS]:
        taken += timedelta(minutes=7)
        write_photo(labels, f"{number}.jpg",
                    os.path.join(workflows, "new-photos", f"photo-{number}.jpg"), taken,
                    with_gps=number != NEW_WITHOUT_GPS)
    for rating, numbers in SWIPES.items():
        for number in numbers:
            taken += timedelta(minutes=7)
            write_photo(labels, f"{number}.jpg",
                        os.path.join(workflows, "swipes", rating, f"photo-{number}.jpg"), taken)


if __name__ == "__main__":
    main()
