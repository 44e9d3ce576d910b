"""Small bundled sample photos for the demo, example workflows and tests."""
import os

SAMPLE_PHOTOS = os.path.join(os.path.dirname(__file__), "photos")


def sample_photo_paths():
    """Sorted full paths of the bundled sample photos."""
    return sorted(os.path.join(SAMPLE_PHOTOS, f) for f in os.listdir(SAMPLE_PHOTOS)
                  if f.lower().endswith(".jpg"))
