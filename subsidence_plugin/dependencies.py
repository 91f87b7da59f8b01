"""Where the plugin's extra Python packages (torch, pykrige, ...) live, and how they get there.

QGIS runs its own Python: packages installed into a virtual environment are invisible to it, and a pip
install into QGIS's site-packages can pull a second numpy that breaks GDAL. The plugin therefore keeps its
dependencies in one folder of its own, per Python version:

* ``$SUBSIDENCE_PLUGIN_DEPS`` if set, else
* Linux ``$XDG_DATA_HOME/subsidence_plugin/python3.X`` (default ``~/.local/share/...``),
  macOS ``~/Library/Application Support/subsidence_plugin/python3.X``,
  Windows ``%APPDATA%\\subsidence_plugin\\python3.X``.

The folder is put *first* on ``sys.path`` when the plugin loads, so torch finds the pinned versions of its own
dependencies (sympy, networkx, jinja2 ...) rather than older ones from the system (Debian's sympy breaks torch's
import). It can never shadow numpy, scipy or GDAL because it holds only the pinned closure of
``requirements/runtime.txt``, which contains neither numpy nor scipy: it is filled by ``scripts/setup.sh`` or by
*Install dependencies* in the plugin menu, both running ``pip install --target <folder> --no-deps`` on that list.
This module imports neither QGIS nor Qt.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from typing import Dict, List, Optional, Sequence

# import name -> pip requirement; what the algorithms may need beyond QGIS, numpy, scipy and GDAL.
OPTIONAL_PACKAGES: Dict[str, str] = {"torch": "torch", "pykrige": "pykrige"}


def dependency_folder() -> str:
    """The plugin's dependency folder for this Python version (it may not exist yet)."""
    override = os.environ.get("SUBSIDENCE_PLUGIN_DEPS")
    if override:
        return os.path.abspath(os.path.expanduser(override))
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if sys.platform.startswith("win"):
        base = os.environ.get("APPDATA") or os.path.expanduser("~")
    elif sys.platform == "darwin":
        base = os.path.expanduser("~/Library/Application Support")
    else:
        base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return os.path.join(base, "subsidence_plugin", version)


def add_dependency_folder() -> Optional[str]:
    """Put the dependency folder first on ``sys.path``; returns it if it exists."""
    folder = dependency_folder()
    if not os.path.isdir(folder):
        return None
    if folder not in sys.path:
        sys.path.insert(0, folder)
        if sys.platform.startswith("win"):
            torch_lib = os.path.join(folder, "torch", "lib")
            if os.path.isdir(torch_lib) and hasattr(os, "add_dll_directory"):
                os.add_dll_directory(torch_lib)
    return folder


def missing_packages(modules: Sequence[str] = tuple(OPTIONAL_PACKAGES)) -> List[str]:
    """The import names among ``modules`` that cannot be imported."""
    return [name for name in modules if importlib.util.find_spec(name) is None]


def missing_message(modules: Sequence[str]) -> str:
    """A message telling the user which packages are missing and how to install them."""
    return (f"This tool needs the Python package(s) {', '.join(modules)}, which QGIS cannot import. Install them "
            "with Plugins > Land subsidence > Install dependencies (or run scripts/setup.sh from the plugin's "
            f"source), which puts them in {dependency_folder()}; then restart QGIS.")


def requirements_file() -> str:
    """Path of the pinned runtime requirements shipped with the plugin."""
    here = os.path.dirname(os.path.abspath(__file__))
    for candidate in (os.path.join(here, "requirements", "runtime.txt"),
                      os.path.join(os.path.dirname(here), "requirements", "runtime.txt")):
        if os.path.exists(candidate):
            return candidate
    raise FileNotFoundError("requirements/runtime.txt is missing from the plugin")


def python_executable() -> str:
    """The Python interpreter that QGIS runs on (``sys.executable`` is the QGIS binary inside QGIS)."""
    exe = sys.executable or ""
    if os.path.basename(exe).lower().startswith("python"):
        return exe
    if sys.platform.startswith("win"):
        candidate = os.path.join(sys.exec_prefix, "python.exe")
        if os.path.exists(candidate):
            return candidate
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for name in (version, "python3"):
        for folder in (os.path.join(sys.exec_prefix, "bin"), None):
            found = shutil.which(name, path=folder) if folder else shutil.which(name)
            if found:
                return found
    raise FileNotFoundError(f"Cannot find the {version} interpreter that QGIS uses")


def pip_install_command(folder: Optional[str] = None) -> List[str]:
    """The pip command that fills the dependency folder from the pinned list, without dependencies."""
    return [python_executable(), "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
            "--upgrade", "--no-deps", "--target", folder or dependency_folder(), "-r", requirements_file()]


if __name__ == "__main__":
    print(dependency_folder())
