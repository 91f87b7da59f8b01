"""*Install dependencies*: pip fills the plugin's dependency folder in a background task.

pip runs as a subprocess of QGIS's own Python with ``--no-deps --target <folder>`` on the pinned list, so it
never installs or replaces numpy, scipy or GDAL. ``run()`` touches no widget; the result is shown in
``finished()`` on the main thread.
"""
from __future__ import annotations

import subprocess

from qgis.core import Qgis, QgsMessageLog, QgsTask

from ..dependencies import add_dependency_folder, dependency_folder, pip_install_command

LOG_TAG = "Land subsidence"


class InstallDependenciesTask(QgsTask):
    """Runs pip for the plugin's dependency folder; reports success or pip's error output."""

    def __init__(self, message_bar=None):
        super().__init__("Land subsidence: installing Python dependencies", QgsTask.CanCancel)
        self.message_bar = message_bar
        self.output = ""
        self.error = ""
        self.process = None

    def run(self):
        try:
            command = pip_install_command()
        except FileNotFoundError as error:
            self.error = str(error)
            return False
        self.setProgress(5)
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines = []
        for line in self.process.stdout:
            lines.append(line)
            self.setProgress(min(95.0, self.progress() + 1.0))
            if self.isCanceled():
                self.process.terminate()
                self.error = "Cancelled"
                return False
        code = self.process.wait()
        self.output = "".join(lines)
        if code != 0:
            self.error = f"pip failed with exit code {code}:\n{self.output[-2000:]}"
            return False
        return True

    def finished(self, result):
        if result:
            add_dependency_folder()
            text = f"Dependencies installed in {dependency_folder()}. Restart QGIS to use them everywhere."
            QgsMessageLog.logMessage(self.output, LOG_TAG, Qgis.Info)
            if self.message_bar is not None:
                self.message_bar.pushSuccess("Land subsidence", text)
        else:
            QgsMessageLog.logMessage(self.error, LOG_TAG, Qgis.Critical)
            if self.message_bar is not None:
                self.message_bar.pushCritical("Land subsidence", "Installing dependencies failed; see the "
                                              "'Land subsidence' tab of the log messages panel.")
