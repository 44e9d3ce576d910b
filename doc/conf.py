"""Sphinx configuration for the geophoto documentation (Markdown via MyST)."""
project = "Orange3-GeoPhoto"
author = "geophoto developers"
extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
html_theme = "alabaster"
master_doc = "index"
