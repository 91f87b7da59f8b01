"""The QGIS plugin object: Processing provider, the "Land subsidence" menu and toolbar."""
from __future__ import annotations

from qgis.core import QgsApplication, QgsTask
from qgis.PyQt import sip
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QAction, QMenu, QMessageBox, QToolButton

from .dependencies import OPTIONAL_PACKAGES, dependency_folder, missing_packages
from .resources import plugin_version, resource_path

MENU_TITLE = "&Land subsidence"
TOOLBAR_TITLE = "Land subsidence"


class SubsidencePlugin:
    """Registers the ``subsidence`` provider (also headless) and adds the menu and toolbar in the desktop."""

    def __init__(self, iface):
        self.iface = iface
        self.provider = None
        self.menu = None
        self.toolbar = None
        self.actions = []
        self.tasks = []
        self.surface_dock = None
        self.susceptibility_dock = None
        self.series_dock = None

    def initProcessing(self):  # noqa: N802
        from .processing.provider import SubsidenceProvider

        if self.provider is None:
            self.provider = SubsidenceProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self):  # noqa: N802
        self.initProcessing()
        icon = QIcon(resource_path("icon.svg"))
        window = self.iface.mainWindow()
        self.menu = QMenu(MENU_TITLE, window)
        self.menu.setObjectName("landSubsidenceMenu")
        from .gui.docks.series_dock import SeriesDock
        from .gui.docks.surface_dock import SurfaceDock
        from .gui.docks.susceptibility_dock import SusceptibilityDock

        self.surface_dock = SurfaceDock(window)
        self.susceptibility_dock = SusceptibilityDock(window)
        self.series_dock = SeriesDock(self.iface.mapCanvas(), self.iface.messageBar(), window)
        for dock in self._docks():
            self.iface.addDockWidget(Qt.RightDockWidgetArea, dock)
            if dock is not self.surface_dock and window.dockWidgetArea(self.surface_dock) != Qt.NoDockWidgetArea:
                window.tabifyDockWidget(self.surface_dock, dock)  # tabs: open docks never squeeze the map
            dock.hide()  # after addDockWidget, which shows it: docks open only from the menu / toolbar
        entries = [
            ("Subsidence surface…", icon, lambda: self._show(self.surface_dock)),
            ("Susceptibility…", icon, lambda: self._show(self.susceptibility_dock)),
            ("Time series…", icon, lambda: self._show(self.series_dock)),
            ("Create sample study area…", icon, lambda: self._open_algorithm("subsidence:createsamplearea")),
            ("Install dependencies…", QgsApplication.getThemeIcon("/mActionAddLayer.svg"), self.install_dependencies),
            ("About Land subsidence…", icon, self.show_about),
        ]
        for text, entry_icon, slot in entries:
            action = QAction(entry_icon, text, window)
            action.triggered.connect(slot)
            self.menu.addAction(action)
            self.actions.append(action)
        menu_bar = window.menuBar()
        existing = menu_bar.actions()
        if existing:
            menu_bar.insertMenu(existing[-1], self.menu)
        else:
            menu_bar.addMenu(self.menu)
        self.toolbar = self.iface.addToolBar(TOOLBAR_TITLE)
        self.toolbar.setObjectName("landSubsidenceToolbar")
        button = QToolButton(self.toolbar)
        button.setIcon(icon)
        button.setToolTip("Land subsidence tools")
        button.setMenu(self.menu)
        button.setPopupMode(QToolButton.InstantPopup)
        self.toolbar.addWidget(button)

    def unload(self):
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
        if self.menu is not None:
            self.iface.mainWindow().menuBar().removeAction(self.menu.menuAction())
            self.menu.deleteLater()
            self.menu = None
        if self.toolbar is not None:
            self.iface.mainWindow().removeToolBar(self.toolbar)
            self.toolbar.deleteLater()
            self.toolbar = None
        for action in self.actions:
            action.deleteLater()
        self.actions = []
        if self.series_dock is not None:
            self.series_dock.unload()
        for dock in self._docks():
            if dock is not None:
                self.iface.removeDockWidget(dock)
                dock.deleteLater()
        self.surface_dock = self.susceptibility_dock = self.series_dock = None

    def _docks(self) -> tuple:
        return self.surface_dock, self.susceptibility_dock, self.series_dock

    @staticmethod
    def _show(dock) -> None:
        dock.show()
        dock.raise_()

    def _open_algorithm(self, algorithm_id: str) -> None:
        import processing

        processing.execAlgorithmDialog(algorithm_id, {})

    def install_dependencies(self) -> None:
        from .gui.install_dependencies import InstallDependenciesTask

        task = InstallDependenciesTask(self.iface.messageBar())
        self.tasks = [t for t in self.tasks if not sip.isdeleted(t)  # QGIS deletes a task once it has ended
                      and t.status() not in (QgsTask.Complete, QgsTask.Terminated)] + [task]
        QgsApplication.taskManager().addTask(task)

    def show_about(self) -> None:
        missing = missing_packages()
        status = ", ".join(f"{name}: {'missing' if name in missing else 'available'}" for name in OPTIONAL_PACKAGES)
        QMessageBox.information(
            self.iface.mainWindow(), "Land subsidence",
            f"Land subsidence plugin {plugin_version()}\n\nOptional Python packages: {status}\n"
            f"Dependency folder: {dependency_folder()}\n\nDisplacement in mm, negative = subsidence.")
