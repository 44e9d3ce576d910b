"""geophoto: photos to geographic knowledge in Orange, locally and offline.

The core modules (exif, track, embedders, geolocate, geocode, export) are plain Python;
widgets/ holds the Qt faces and cli/ the ``geophoto`` command. Nothing heavy is imported here.
"""
__version__ = "0.1.0"
