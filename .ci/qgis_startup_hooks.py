"""PYQGIS_STARTUP for the CI desktop check: record every Python error QGIS reports, before plugins load."""
import os
import traceback

import qgis.utils

def _record(type_, value, tb, msg, messagebar=False, level=None):
    with open(os.environ["SUBSIDENCE_CI_ERRORS"], "a", encoding="utf-8") as fh:
        fh.write(f"{msg}\n{''.join(traceback.format_exception(type_, value, tb))}\n")
    if level is None:
        return _original(type_, value, tb, msg, messagebar)
    return _original(type_, value, tb, msg, messagebar, level)


if not getattr(qgis.utils.showException, "subsidence_ci_hook", False):  # QGIS may run this file twice
    _original = qgis.utils.showException
    _record.subsidence_ci_hook = True
    qgis.utils.showException = _record
