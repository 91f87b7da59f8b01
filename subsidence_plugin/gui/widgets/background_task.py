"""The base of the plugin's background tasks: they are stopped with `stop()`, never with `QgsTask.cancel()`.

QGIS 3.22's `QgsTask.cancel()` terminates a task that is still queued at once, without a lock against the thread
pool: when the pool starts the task in the same instant, the task manager deletes it under its running worker and
QGIS crashes (seen in CI: a dock's Cancel pressed right after Run). A stopped task instead runs to its next check,
sees `stopped()` and returns, so it always ends through `run()`. A cancel from QGIS's task bar still counts
(`stopped()` also reads `isCanceled()`).
"""
from qgis.core import QgsTask


class BackgroundTask(QgsTask):
    """A cancellable QgsTask whose `run()` checks `stopped()`."""

    def __init__(self, description: str):
        super().__init__(description, QgsTask.CanCancel)
        self.stop_requested = False

    def stop(self) -> None:
        """Ask the task to end at its next check (main thread)."""
        self.stop_requested = True

    def stopped(self) -> bool:
        """True once `stop()` was called or QGIS's task bar cancelled the task (worker thread)."""
        return self.stop_requested or self.isCanceled()
