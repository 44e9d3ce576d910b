"""Export options and the summary every writer returns."""
from dataclasses import dataclass, field
from typing import List, Optional, Sequence


@dataclass
class ExportOptions:
    """What the widget and the CLI can set; defaults are what a user expects."""
    name_template: str = ""            # e.g. "{name} - {place}"; "" = name, place, file
    group: Optional[str] = None        # a discrete column: a folder per value
    thumbnail_size: int = 320          # px of the longer side in balloons; 0: none
    balloon_columns: Optional[Sequence[str]] = None  # None: every visible one
    time_line: bool = False            # a line joining photos in time order
    uncertainty_circles: bool = True   # for predicted positions with an uncertainty
    privacy_grid_m: float = 0          # coarsen positions to a grid of this size
    privacy_to_place: bool = False     # or move them to the nearest GeoNames place
    document_name: str = "Photos"


@dataclass
class ExportSummary:
    path: str
    placemarks: int                    # rows written (those with a position)
    without_position: int              # rows left out: no position at all
    groups: List[str] = field(default_factory=list)
    predicted: int = 0                 # placemarks at a predicted position
    impossible: int = 0                # rows left out: a position that cannot be on Earth
    photos: int = 0                    # local photos a balloon was to show
    thumbnails_failed: int = 0         # of those, photos that could not be read
