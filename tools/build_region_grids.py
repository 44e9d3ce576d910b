"""Precompute the Reverse Geocode grids for the pinned orange3-geo boundaries and write
orangecontrib/geophoto/data/region_grids.npz (a derived file, committed)."""
import time

from orangecontrib.geophoto.geocode.regions import SHIPPED_GRIDS, build_shipped_grids

if __name__ == "__main__":
    start = time.perf_counter()
    build_shipped_grids()
    print(f"wrote {SHIPPED_GRIDS} in {time.perf_counter() - start:.0f} s")
