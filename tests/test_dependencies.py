"""The dependency folder: where it is, that it never shadows QGIS's packages, and what pip is told."""
import os
import subprocess
import sys
import zipfile

from subsidence_plugin import dependencies

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_folder_override_and_platform_default(monkeypatch, tmp_path):
    monkeypatch.setenv("SUBSIDENCE_PLUGIN_DEPS", str(tmp_path / "deps"))
    assert dependencies.dependency_folder() == str(tmp_path / "deps")
    monkeypatch.delenv("SUBSIDENCE_PLUGIN_DEPS")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert dependencies.dependency_folder() == str(tmp_path / "xdg" / "subsidence_plugin" / version)


def test_folder_goes_first_and_only_once(monkeypatch, tmp_path):
    folder = tmp_path / "deps"
    monkeypatch.setenv("SUBSIDENCE_PLUGIN_DEPS", str(folder))
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert dependencies.add_dependency_folder() is None  # absent: nothing added
    folder.mkdir()
    (folder / "fake_dependency_module.py").write_text("VALUE = 42\n")
    assert dependencies.add_dependency_folder() == str(folder)
    assert sys.path[0] == str(folder) and sys.path.count(str(folder)) == 1
    dependencies.add_dependency_folder()
    assert sys.path.count(str(folder)) == 1
    assert dependencies.missing_packages(["fake_dependency_module", "surely_not_installed_pkg"]) == [
        "surely_not_installed_pkg"]


def test_pip_command_never_touches_numpy():
    command = dependencies.pip_install_command("/tmp/target")
    assert command[1:4] == ["-m", "pip", "install"]
    assert "--no-deps" in command and command[command.index("--target") + 1] == "/tmp/target"
    requirements = open(dependencies.requirements_file()).read().lower().split("\n")
    pinned = [line.split("==")[0].strip() for line in requirements if line and not line.startswith("#")]
    assert "torch" in pinned and "pykrige" in pinned
    assert "numpy" not in pinned and "scipy" not in pinned
    assert all("==" in line for line in requirements if line and not line.startswith("#"))


def test_runtime_packages_come_from_the_folder_and_numpy_from_the_system():
    import numpy
    import pykrige
    import torch

    folder = dependencies.dependency_folder()
    assert torch.__file__.startswith(folder) and pykrige.__file__.startswith(folder)
    assert not numpy.__file__.startswith(folder)
    assert not os.path.exists(os.path.join(folder, "numpy"))


def test_package_zip_holds_a_valid_plugin(tmp_path):
    env = dict(os.environ, DIST_DIR=str(tmp_path))
    out = subprocess.run(["bash", os.path.join(ROOT, "scripts", "package.sh")], env=env, check=True,
                         capture_output=True, text=True).stdout.strip()
    assert out == str(tmp_path / "subsidence_plugin.zip")
    names = zipfile.ZipFile(out).namelist()
    for required in ("subsidence_plugin/metadata.txt", "subsidence_plugin/__init__.py", "subsidence_plugin/LICENSE",
                     "subsidence_plugin/resources/icon.svg", "subsidence_plugin/requirements/runtime.txt",
                     "subsidence_plugin/core/sample_area.py", "subsidence_plugin/processing/provider.py"):
        assert required in names
    sources = {os.path.relpath(os.path.join(d, f), ROOT) for d, _, fs in os.walk(os.path.join(ROOT, "subsidence_plugin"))
               for f in fs if f.endswith(".py")}
    assert sources <= set(names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    with zipfile.ZipFile(out) as archive:
        meta = archive.read("subsidence_plugin/metadata.txt").decode()
    assert "qgisMinimumVersion=3.22" in meta and "icon=resources/icon.svg" in meta
