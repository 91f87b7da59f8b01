"""One output transaction per run: every algorithm writes all its outputs or none.

Before the run, every file output (rasters, tables, GeoPackages, model files, reports, output folders) is given
a temporary path beside its target (``.<name>.<token>-<n>.tmp<.ext>``, so drivers still see the extension, and the
sidecars GDAL, QGIS and the model writer put beside it — ``.aux.xml``, ``.qml``, ``.json``, ``-wal`` / ``-shm``,
shapefile parts — share its prefix); the algorithm runs on those paths. Only when it has finished without error
or cancel are the temporary files renamed into place, all together: a target that already exists is moved
aside first and put back if any rename fails. On any failure or cancel every temporary file is removed, folders
the run created are removed again, and every target is as before the run. A layer added to an existing
multi-layer GeoPackage is written into a temporary copy of the file, which replaces the original only on
success.

Before any work: missing output folders are created (and removed again on failure); a folder that cannot be
written, two outputs on one file and an output that is also an input are refused with a message naming the
parameters and the path (`output_problems`, also run by ``checkParameterValues``).
"""
from __future__ import annotations

import gc
import glob
import os
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from qgis.core import (QgsMapLayer, QgsProcessing, QgsProcessingException, QgsProcessingFeatureSourceDefinition,
                       QgsProcessingOutputLayerDefinition, QgsProcessingParameterFeatureSink,
                       QgsProcessingParameterFileDestination, QgsProcessingParameterFolderDestination,
                       QgsProcessingParameterRasterDestination, QgsProcessingParameterVectorDestination,
                       QgsProcessingUtils, QgsProperty)

_OGR_DESTINATION = re.compile(r"^ogr:dbname='?(?P<path>[^' ]+)'?(?P<rest>.*)$")
_TEMPORARY_NAME = re.compile(r"^\.(?P<stem>.+)\.[0-9a-f]{12}-\d+\.tmp(\.[^.]*)?$")  # see OutputTransaction.begin
_STALE_SIDECARS = (".aux.xml", "-wal", "-shm", "-journal")  # of an old target: removed with it (and ".qml")


@dataclass
class Output:
    """One file output of a run: its parameter, the target and the temporary path the algorithm writes."""

    key: str
    description: str
    final: str  # file (or folder) the user asked for
    temp: str  # what the algorithm writes
    folder: bool = False

    @property
    def final_stem(self) -> str:
        return _stem(self.final, self.folder)

    @property
    def temp_stem(self) -> str:
        return _stem(self.temp, self.folder)


def output_name(path: str) -> str:
    """The name, without extension, of the file a run's temporary output becomes (of the file itself for any
    other path): what a layer written there is called."""
    match = _TEMPORARY_NAME.match(os.path.basename(path))
    return match.group("stem") if match else os.path.splitext(os.path.basename(path))[0]


def _stem(path: str, folder: bool) -> str:
    return path if folder else os.path.splitext(path)[0]


def _file_of(destination: str) -> Tuple[Optional[str], str]:
    """(file path, how to rebuild the destination string around another file) of a destination value; (None, …)
    for outputs that are no file (memory layers, database tables)."""
    if not destination or destination == QgsProcessing.TEMPORARY_OUTPUT or destination.startswith("memory:"):
        return None, "{}"
    match = _OGR_DESTINATION.match(destination)
    if match:
        return os.path.abspath(match.group("path")), "ogr:dbname='{}'" + match.group("rest").replace("{", "{{") \
            .replace("}", "}}")
    if ":" in destination.split("/")[0] and not os.path.splitdrive(destination)[0]:
        return None, "{}"  # postgres:, spatialite: and other provider destinations
    path, _, layer = destination.partition("|")
    return os.path.abspath(path), "{}" + ("|" + layer.replace("{", "{{").replace("}", "}}") if layer else "")


def _destination_value(value) -> str:
    if isinstance(value, QgsProcessingOutputLayerDefinition):
        return value.sink.staticValue() or ""
    return "" if value is None else str(value)


def destinations(algorithm, parameters: dict, context) -> List[Tuple[object, str, Optional[str], str]]:
    """(definition, destination string, file or folder path or None, destination template) of every output."""
    out = []
    for definition in algorithm.destinationParameterDefinitions():
        value = parameters.get(definition.name())
        text = _destination_value(value)
        if isinstance(definition, (QgsProcessingParameterRasterDestination, QgsProcessingParameterFileDestination)):
            if not text and definition.flags() & definition.FlagOptional:
                out.append((definition, text, None, "{}"))
                continue
            if text == QgsProcessing.TEMPORARY_OUTPUT or not text:
                text = algorithm.parameterAsFileOutput(parameters, definition.name(), context) if isinstance(
                    definition, QgsProcessingParameterFileDestination) else \
                    algorithm.parameterAsOutputLayer(parameters, definition.name(), context)
        elif isinstance(definition, QgsProcessingParameterFolderDestination):
            text = text if text and text != QgsProcessing.TEMPORARY_OUTPUT else \
                algorithm.parameterAsFileOutput(parameters, definition.name(), context)
        path, template = _file_of(text) if text else (None, "{}")
        out.append((definition, text, path, template))
    return out


def input_files(algorithm, parameters: dict, context) -> Dict[str, str]:
    """File of every layer or file input: {absolute path: parameter name}. It looks layers up in the context's
    project: call it on the main thread (`SubsidenceAlgorithm.prepareAlgorithm`), never in a task's worker."""
    files = {}
    for definition in algorithm.parameterDefinitions():
        if definition.isDestination():
            continue
        value = parameters.get(definition.name())
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            if item is None:
                continue
            if isinstance(item, QgsProcessingFeatureSourceDefinition):
                item = item.source.staticValue()
            if isinstance(item, QgsMapLayer):
                text = item.source()
            else:
                text = str(item)
                layer = QgsProcessingUtils.mapLayerFromString(text, context, False)
                if layer is not None:
                    text = layer.source()
            path = text.split("|")[0]
            if path and os.path.isfile(path):
                files[os.path.abspath(path)] = definition.name()
    return files


def _first_existing(folder: str) -> str:
    while folder and not os.path.isdir(folder):
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return folder


def _writable(folder: str) -> Optional[str]:
    """None when a file can be created in ``folder`` (or, if missing, in its first existing parent), else why not.
    Tried for real: a read-only mount lets root pass ``os.access``."""
    existing = _first_existing(folder)
    if existing and not os.path.isdir(existing):
        return f"{existing} is not a folder"
    try:
        with tempfile.NamedTemporaryFile(dir=existing or ".", prefix=".subsidence-write-test-"):
            pass
    except OSError as error:
        return error.strerror or str(error)
    return None


def output_problems(algorithm, parameters: dict, context, inputs: Optional[Dict[str, str]] = None) -> Optional[str]:
    """Why the outputs cannot be written as asked (two outputs on one file, an output that is an input, a folder
    that cannot be written), or None. ``inputs``: `input_files`, when already known (else looked up here)."""
    seen: Dict[str, str] = {}
    inputs = input_files(algorithm, parameters, context) if inputs is None else inputs
    for definition, _, path, _ in destinations(algorithm, parameters, context):
        if path is None:
            continue
        name = f"{definition.description()} ({definition.name()})"
        if path in seen:
            return f"{seen[path]} and {name} are the same file ({path}): choose another file for one of them"
        if path in inputs:
            return (f"{name} would overwrite the input {inputs[path]} ({path}): choose another file for the "
                    "output")
        seen[path] = name
        folder = path if isinstance(definition, QgsProcessingParameterFolderDestination) else os.path.dirname(path)
        why = _writable(folder)
        if why:
            return f"{name}: cannot write to {folder}: {why}"
    return None


@dataclass
class OutputTransaction:
    """The file outputs of one run: `begin` before the algorithm, `commit` after it, `rollback` on failure."""

    algorithm: object
    parameters: dict
    context: object
    inputs: Optional[Dict[str, str]] = None  # `input_files`, found on the main thread
    outputs: List[Output] = field(default_factory=list)
    created: List[str] = field(default_factory=list)
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def begin(self) -> dict:
        """Check, create missing folders, and return the parameters with every file output on its temporary path."""
        problem = output_problems(self.algorithm, self.parameters, self.context, self.inputs)
        if problem:
            raise QgsProcessingException(problem)
        self._loads = dict(self.context.layersToLoadOnCompletion())
        run_parameters = dict(self.parameters)
        for definition, text, path, template in destinations(self.algorithm, self.parameters, self.context):
            if path is None:
                continue
            folder = isinstance(definition, QgsProcessingParameterFolderDestination)
            self._make_folder(os.path.dirname(path))
            directory, name = os.path.split(path)
            stem, ext = (name, "") if folder else os.path.splitext(name)
            temp = os.path.join(directory, f".{stem}.{self.token}-{len(self.outputs)}.tmp{ext}")
            output = Output(definition.name(), definition.description(), path, temp, folder)
            if isinstance(definition, (QgsProcessingParameterFeatureSink, QgsProcessingParameterVectorDestination)) \
                    and template.startswith("ogr:") and os.path.exists(path):
                shutil.copy2(path, temp)  # a layer added to an existing GeoPackage: work on a copy
            if folder:
                os.makedirs(temp)
            self.outputs.append(output)
            value = self.parameters.get(definition.name())
            new_text = template.format(temp)
            if isinstance(value, QgsProcessingOutputLayerDefinition):
                value = QgsProcessingOutputLayerDefinition(value)
                value.sink = QgsProperty.fromValue(new_text)
                run_parameters[definition.name()] = value
            else:
                run_parameters[definition.name()] = new_text
        return run_parameters

    def _make_folder(self, folder: str) -> None:
        missing = []
        while folder and not os.path.exists(folder):
            missing.append(folder)
            folder = os.path.dirname(folder)
        for path in reversed(missing):
            try:
                os.mkdir(path)
            except OSError as error:
                raise QgsProcessingException(f"Cannot create the output folder {path}: {error.strerror}") from None
            self.created.append(path)

    def temporary_stems(self) -> List[str]:
        """The temporary path (without extension) of every file output: what the run writes starts with one."""
        return [output.temp_stem for output in self.outputs]

    def final_of(self, temp_path: str) -> str:
        """Where a file the run wrote is once committed."""
        for output in self.outputs:
            if temp_path.startswith(output.temp_stem):
                return output.final_stem + temp_path[len(output.temp_stem):]
        return temp_path

    def _replace_paths(self, value):
        if isinstance(value, str):
            for output in self.outputs:
                value = value.replace(output.temp_stem, output.final_stem)
            return value
        return value

    def commit(self, results: dict) -> dict:
        """Rename every written temporary file into place, all or none; returns the results on the targets."""
        moves = []  # (temp, final)
        for output in self.outputs:
            if output.folder:
                for root, _, files in os.walk(output.temp):
                    for name in files:
                        source = os.path.join(root, name)
                        moves.append((source, os.path.join(output.final, os.path.relpath(source, output.temp))))
                continue
            written = sorted(glob.glob(glob.escape(output.temp_stem) + "*"))
            if not written:
                continue  # not written (an optional output the run left out)
            for source in written:  # the file (a writer may have chosen its extension) and its sidecars
                moves.append((source, output.final_stem + source[len(output.temp_stem):]))
            for stale in [output.final + suffix for suffix in _STALE_SIDECARS] + [output.final_stem + ".qml"]:
                if os.path.exists(stale) and not any(final == stale for _, final in moves):
                    moves.append((None, stale))  # a sidecar of the old file that no longer belongs to it
        backups, placed = [], []
        try:
            for source, final in moves:
                if os.path.exists(final):
                    backup = os.path.join(os.path.dirname(final), f".{os.path.basename(final)}.{self.token}.bak")
                    _move(final, backup)
                    backups.append((backup, final))
            for source, final in moves:
                if source is not None:
                    os.makedirs(os.path.dirname(final), exist_ok=True)
                    _move(source, final)
                    placed.append(final)
        except OSError as error:
            for final in placed:
                _remove(final)
            for backup, final in backups:
                os.replace(backup, final)
            self.rollback()
            raise QgsProcessingException(f"The outputs could not be put in place ({error}); nothing was "
                                         "written") from None
        for backup, _ in backups:
            _remove(backup)
        for output in self.outputs:
            if output.folder:
                shutil.rmtree(output.temp, ignore_errors=True)
        loads = {}
        for source, details in self.context.layersToLoadOnCompletion().items():
            loads[self._replace_paths(source)] = details
        self.context.setLayersToLoadOnCompletion(loads)
        return {key: self._replace_paths(value) for key, value in results.items()}

    def rollback(self) -> None:
        """Remove every temporary file and the folders the run created; forget layers it meant to load."""
        for output in self.outputs:
            if output.folder:
                shutil.rmtree(output.temp, ignore_errors=True)
            else:  # the run's files, and the writers' own temporary files beside them (".<name>.<id>.tmp")
                directory, name = os.path.split(output.temp_stem)
                for prefix in (output.temp_stem, os.path.join(directory, "." + name)):
                    for path in glob.glob(glob.escape(prefix) + "*"):
                        _remove(path)
        for folder in reversed(self.created):
            try:
                os.rmdir(folder)
            except OSError:
                pass
        if hasattr(self, "_loads"):
            self.context.setLayersToLoadOnCompletion(self._loads)


def _move(source: str, target: str) -> None:
    """Rename a file; one that a dataset held only by a reference cycle keeps open (Windows refuses to rename it)
    is renamed after a garbage collection. Never collect first: a collection in a task's worker thread would delete
    garbage Qt objects of the main thread from the wrong thread."""
    try:
        _rename(source, target)
    except PermissionError:
        gc.collect()
        _rename(source, target)


def _rename(source: str, target: str) -> None:
    """Put a file in place (one name, so a test can make it fail)."""
    os.replace(source, target)


def _remove(path: str) -> None:
    """Remove a file or folder, as `_move` after a garbage collection if it is still open; errors are ignored."""
    for attempt in range(2):
        try:
            if os.path.isdir(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
            return
        except PermissionError:
            if attempt == 0:
                gc.collect()
        except OSError:
            return
