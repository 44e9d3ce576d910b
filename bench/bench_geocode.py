"""Reverse Geocode: 1,000,000 random points (uniform on the sphere, so ~70% at sea), cold
(first call in a process: loading boundaries and places) and warm, against
reverse_geocoder's own search (mode 2, its default) on the same points, with the share of
identical nearest-place answers.

    .venv/bin/python bench/bench_geocode.py [--n 1000000]
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, args.n)))
    lon = rng.uniform(-180, 180, args.n)

    from orangecontrib.geophoto.geocode import PLACE, reverse_geocode
    from orangecontrib.geophoto.geocode.places import places
    start = time.perf_counter()
    cold = reverse_geocode(lat, lon)
    t_cold = time.perf_counter() - start
    start = time.perf_counter()
    reverse_geocode(lat, lon)
    t_warm = time.perf_counter() - start
    start = time.perf_counter()
    index, _ = places().nearest(lat, lon)
    t_places = time.perf_counter() - start

    import reverse_geocoder
    coords = list(zip(lat.tolist(), lon.tolist()))
    geocoder = reverse_geocoder.RGeocoder(mode=2, verbose=False)
    start = time.perf_counter()
    theirs = geocoder.query(coords)
    t_rg = time.perf_counter() - start
    same = np.mean([a == b["name"] for a, b in zip(cold[PLACE], theirs)])
    print(f"load {os.getloadavg()[0]:.2f}; {args.n:,} points")
    print(f"geophoto, all columns, cold (incl. loading data): {t_cold:6.1f} s")
    print(f"geophoto, all columns, warm:                       {t_warm:6.1f} s")
    print(f"geophoto, nearest place only (same answer kind):   {t_places:6.1f} s")
    print(f"reverse_geocoder.RGeocoder(mode=2).query, warm:    {t_rg:6.1f} s")
    print(f"same nearest place as reverse_geocoder: {100 * same:.2f}% "
          "(differences: it searches on raw lat/lon, we on the sphere)")


if __name__ == "__main__":
    main()
