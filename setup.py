#!/usr/bin/env python
"""Orange3-GeoPhoto: photos to geographic knowledge on the Orange canvas.

Development and CI install the exact versions in ``requirements.txt`` (``make test``);
``install_requires`` below states the ranges a user's Orange needs.
"""
import os
from setuptools import setup, find_namespace_packages

NAME = "Orange3-GeoPhoto"
VERSION = "0.1.0"
HERE = os.path.dirname(os.path.abspath(__file__))


def read(name):
    with open(os.path.join(HERE, name), encoding="utf-8") as f:
        return f.read()


INSTALL_REQUIRES = [
    "Orange3>=3.38",
    "Orange3-ImageAnalytics>=0.13",
    "Orange3-Geo>=0.5",
    "AnyQt>=0.2",
    # The Local Embedder imports TensorFlow lazily; every other widget works without it.
    "tensorflow>=2.16,<3",
    "geopandas>=1.0",
    "pyogrio>=0.9",
    "shapely>=2.0",
    "Pillow>=10",
    "pillow-heif>=0.16",
    "piexif>=1.1.3",
    "gpxpy>=1.5",
    "exiv2>=0.17",  # python-exiv2: writing geotags (Write Geotags, geophoto write)
    # large training sets (approximate neighbours), GeoParquet, runs on a Dask cluster
    "faiss-cpu>=1.8",
    "pyarrow>=14",
    "dask[distributed]>=2024.1",
    # verified retrieval: local features, geometric checks, the learned same-place model
    "opencv-python-headless>=4.8",
    "scikit-learn>=1.3",
    "threadpoolctl>=3.1",
    "timezonefinder>=6.5",
    "reverse_geocoder>=1.5.1",
    "geopy>=2.4",
    "s2sphere>=0.2.5",
    "numpy>=1.26",
    "pandas>=2.0",
    "scipy>=1.11",
]

ENTRY_POINTS = {
    "orange3.addon": ("geophoto = orangecontrib.geophoto",),
    "orange.widgets": ("Geo Photo = orangecontrib.geophoto.widgets",),
    "orange.widgets.tutorials": ("geophototutorials = orangecontrib.geophoto.tutorials",),
    "orange.canvas.help": ("html-index = orangecontrib.geophoto.widgets:WIDGET_HELP_PATH",),
    "console_scripts": ("geophoto = orangecontrib.geophoto.cli:main",),
}


def documentation_files():
    """Built HTML help (``make doc``) goes into the wheel for offline F1 help."""
    built = os.path.join("doc", "_build", "html")
    files = []
    for root, _, names in os.walk(built):
        target = os.path.join("help", "orange3-geophoto", os.path.relpath(root, built))
        files.append((target, [os.path.join(root, n) for n in names]))
    return files


if __name__ == "__main__":
    setup(
        name=NAME,
        version=VERSION,
        description="Orange add-on: where photos were taken, what is in them, "
                    "and Google Earth maps of them, offline.",
        long_description=read("README.md"),
        long_description_content_type="text/markdown",
        license="GPL-3.0-or-later",
        keywords=["orange3 add-on", "photos", "exif", "geolocation", "kml"],
        packages=find_namespace_packages(include=["orangecontrib.*"])
        + ["orangecontrib.geophoto.tutorials"],
        # The example workflows live in workflows/ and install as the tutorials package.
        package_dir={"orangecontrib.geophoto.tutorials": "workflows"},
        package_data={
            "orangecontrib.geophoto": ["data/*"],
            "orangecontrib.geophoto.embedders": ["*.tsv"],
            # the example workflows and the photos they import, relative to themselves
            "orangecontrib.geophoto.tutorials": ["*.ows", "*.md", "photos/*", "places/*/*",
                                                 "new-photos/*", "swipes/*/*", "walk/*", "*.gpx"],
            "orangecontrib.geophoto.widgets": ["icons/*.svg"],
        },
        data_files=documentation_files(),
        install_requires=INSTALL_REQUIRES,
        extras_require={"test": ["pytest", "pytest-qt", "hypothesis"]},
        entry_points=ENTRY_POINTS,
        python_requires=">=3.10",
        zip_safe=False,
        classifiers=[
            "Framework :: Orange",
            "Programming Language :: Python :: 3",
            "Topic :: Scientific/Engineering :: GIS",
        ],
    )
