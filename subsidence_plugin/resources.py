"""Paths of the plugin's resources and its metadata, for an installed plugin and for the source tree.

An installed plugin (from the zip) holds ``metadata.txt`` and ``resources/`` inside its folder; in the source
tree they sit one level up, at the repository root. Imports neither QGIS nor Qt.
"""
from __future__ import annotations

import configparser
import os
from functools import lru_cache

PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__))
_ROOTS = (PLUGIN_DIR, os.path.dirname(PLUGIN_DIR))


def _find(*parts: str) -> str:
    for root in _ROOTS:
        candidate = os.path.join(root, *parts)
        if os.path.exists(candidate):
            return candidate
    raise FileNotFoundError(f"Plugin file {os.path.join(*parts)} is missing (looked in {', '.join(_ROOTS)})")


def resource_path(*parts: str) -> str:
    """Path of a file under ``resources/``."""
    return _find("resources", *parts)


@lru_cache(maxsize=1)
def metadata() -> dict:
    """The ``[general]`` section of metadata.txt."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(_find("metadata.txt"), encoding="utf-8")
    return dict(parser["general"])


def plugin_version() -> str:
    """The plugin version from metadata.txt."""
    return metadata()["version"]
