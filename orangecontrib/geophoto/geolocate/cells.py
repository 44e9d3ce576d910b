"""Adaptive partitions of the earth into S2 cells, as PlaNet and GeoEstimation build them.

S2 (via s2sphere, a maintained pure-Python port) rather than H3: S2 cells nest exactly
(a cell's four children tile it), which the hierarchy of partitions relies on, and S2 is the
geometry both papers use. A partition starts at a coarse level and splits every cell holding
more than ``t_max`` training photos, down to ``max_level``; cells with fewer than ``t_min``
photos are dropped (their photos join no class of that partition).
"""
from dataclasses import dataclass
from typing import Dict, List

import numpy as np


def leaf_ids(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """S2 leaf cell ids (level 30) as uint64."""
    import s2sphere
    ids = np.empty(len(lat), dtype=np.uint64)
    for i, (la, lo) in enumerate(zip(lat, lon)):
        ids[i] = s2sphere.CellId.from_lat_lng(
            s2sphere.LatLng.from_degrees(float(la), float(lo))).id()
    return ids


def parent_ids(leaves: np.ndarray, level: int) -> np.ndarray:
    """Ids of the level-``level`` ancestors of leaf ids, vectorised (S2's bit layout:
    3 face bits, 2 bits per level, then a trailing 1)."""
    lsb = np.uint64(1) << np.uint64(2 * (30 - level))
    return (leaves & (~(lsb * np.uint64(2) - np.uint64(1)))) | lsb


def token(cell_id: int) -> str:
    import s2sphere
    return s2sphere.CellId(int(cell_id)).to_token()


@dataclass
class Partition:
    """Classes of one partitioning: their cell ids and levels, and per training photo the
    class it belongs to (-1 when its cell was dropped)."""
    cells: np.ndarray       # uint64 ids
    levels: np.ndarray
    labels: np.ndarray      # per training photo

    def assign(self, leaves: np.ndarray) -> np.ndarray:
        """Class of each leaf id (-1 outside every cell)."""
        out = np.full(len(leaves), -1)
        for level in np.unique(self.levels):
            which = np.flatnonzero(self.levels == level)
            lookup = {int(c): k for k, c in zip(which, self.cells[which])}
            parents = parent_ids(leaves, int(level))
            for i, p in enumerate(parents):
                k = lookup.get(int(p))
                if k is not None:
                    out[i] = k
        return out


def adaptive_partition(leaves: np.ndarray, t_max: int, t_min: int, min_level: int = 2,
                       max_level: int = 20) -> Partition:
    """Split cells with more than ``t_max`` photos, drop those with fewer than ``t_min``."""
    final_cells: List[int] = []
    final_levels: List[int] = []
    todo: Dict[int, np.ndarray] = {}
    parents = parent_ids(leaves, min_level)
    for cell in np.unique(parents):
        todo[int(cell)] = np.flatnonzero(parents == cell)
    level = min_level
    while todo:
        next_todo: Dict[int, np.ndarray] = {}
        for cell, members in todo.items():
            if len(members) > t_max and level < max_level:
                children = parent_ids(leaves[members], level + 1)
                for child in np.unique(children):
                    next_todo[int(child)] = members[children == child]
            elif len(members) >= t_min:
                final_cells.append(cell)
                final_levels.append(level)
        todo = next_todo
        level += 1
    if not final_cells:
        raise ValueError(f"too few photos for a partition: no cell holds {t_min} or more "
                         "training photos")
    partition = Partition(np.array(final_cells, dtype=np.uint64),
                          np.array(final_levels), np.empty(0, int))
    partition.labels = partition.assign(leaves)
    return partition
