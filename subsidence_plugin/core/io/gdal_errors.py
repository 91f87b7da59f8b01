"""GDAL errors as Python exceptions inside the plugin's own calls only.

``gdal.UseExceptions()`` switches the error mode of the whole QGIS process, other plugins included, so the
plugin never calls it at import. Every core function that calls GDAL, OGR or OSR runs under
`raising_gdal_errors`: exceptions are on while it runs and the earlier mode is restored when it returns (for a
generator: around each step, so the mode is never left switched between steps).
"""
from __future__ import annotations

import functools
import inspect
from contextlib import contextmanager

from osgeo import gdal, ogr, osr

_MODULES = (gdal, ogr, osr)


@contextmanager
def gdal_exceptions():
    """GDAL, OGR and OSR raise exceptions inside the block; the previous modes are restored on leaving."""
    previous = [module.GetUseExceptions() for module in _MODULES]
    for module, used in zip(_MODULES, previous):
        if not used:
            module.UseExceptions()
    try:
        yield
    finally:  # GDAL keeps a stack of error handlers: leave in the reverse order
        for module, used in reversed(list(zip(_MODULES, previous))):
            if not used:
                module.DontUseExceptions()


@contextmanager
def quiet_gdal():
    """No exceptions and no messages from GDAL inside the block (for dropping a dataset that failed, whose
    clean-up errors would otherwise be raised from a destructor), the previous modes restored on leaving."""
    previous = [module.GetUseExceptions() for module in _MODULES]
    for module, used in reversed(list(zip(_MODULES, previous))):
        if used:
            module.DontUseExceptions()
    gdal.PushErrorHandler("CPLQuietErrorHandler")
    try:
        yield
    finally:
        gdal.PopErrorHandler()
        for module, used in zip(_MODULES, previous):
            if used:
                module.UseExceptions()


def raising_gdal_errors(function):
    """Decorator: run ``function`` (a generator step by step) under `gdal_exceptions`."""
    if inspect.isgeneratorfunction(function):
        @functools.wraps(function)
        def steps(*args, **kwargs):
            with gdal_exceptions():
                generator = function(*args, **kwargs)
            while True:
                with gdal_exceptions():
                    try:
                        item = next(generator)
                    except StopIteration:
                        return
                yield item
        return steps

    @functools.wraps(function)
    def call(*args, **kwargs):
        with gdal_exceptions():
            return function(*args, **kwargs)
    return call
