"""The bundled sample photos, for the demo, tests and scripts.

They live beside the example workflows (``workflows/photos``, installed as the tutorials
package) so that Import Images finds them relative to the workflow file when a tutorial is
opened from Help → Examples.
"""
import os

import orangecontrib.geophoto.tutorials as _tutorials

SAMPLE_PHOTOS = os.path.join(os.path.dirname(_tutorials.__file__), "photos")


def sample_photo_paths():
    """Sorted full paths of the bundled sample photos."""
    return sorted(os.path.join(SAMPLE_PHOTOS, f) for f in os.listdir(SAMPLE_PHOTOS)
                  if f.lower().endswith(".jpg"))
