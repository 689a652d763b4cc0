"""Scanning through a Ray cluster from the app: the address is a remembered
setting, the Settings dialog refuses a malformed one, a scan started in the
window carries it to the engine (also across to a child process), and a
cluster the engine cannot use is explained in the app's usual error dialog.

No cluster is started: ``scan_folder`` is replaced by a stand-in that refuses
a cluster as the engine does when it cannot reach one.
"""

import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox
from pytestqt.qtbot import QtBot

from app import jobs
from app.jobs import ChildWork, ScanWork
from app.settings import SETTINGS_VERSION, Settings, SettingsStore
from app.views.settings_dialog import SettingsDialog
from app.workers import Work
from engine.catalog import Catalog
from engine.errors import ScanError
from engine.progress import CancelToken, Progress
from engine.scan import ScanOptions
from tests.test_app_bugs import open_window

UNREACHABLE = "10.0.0.1:1"


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> list[ScanOptions]:
    """The options of every scan the app starts; a scan through a cluster fails as
    the engine's does when the cluster cannot be reached."""
    seen: list[ScanOptions] = []

    def scan_folder(
        catalog: Catalog, folder: Path, options: ScanOptions, cancel: CancelToken | None = None
    ) -> Iterator[Progress]:
        seen.append(options)
        if options.ray_address:
            raise ScanError(f"cannot reach the Ray cluster at {options.ray_address}: "
                            "connection refused; start it with `ray start --head` or check "
                            "the address. Nothing was changed")
        yield Progress("scanning", 0, 0)

    monkeypatch.setattr(jobs, "scan_folder", scan_folder)
    return seen


def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    return folder


# -- the setting ------------------------------------------------------------------------------


def test_the_cluster_address_is_remembered_between_runs(tmp_path: Path) -> None:
    ini = tmp_path / "settings.ini"
    SettingsStore(ini).save(Settings(device="cpu", ray_address=" head.example:6379 "))
    assert SettingsStore(ini).load().ray_address == "head.example:6379"
    SettingsStore(ini).save(Settings(device="cpu", ray_address="auto"))
    assert SettingsStore(ini).load().ray_address == "auto"


@pytest.mark.parametrize("stored", [
    "head.example", "head.example:0", "head.example:65536", "head.example:port",
    "head example:6379", "ray://head.example:10001", ":6379", "[::1]:99999",
])
def test_a_malformed_stored_address_scans_on_this_computer_and_keeps_the_rest(
    tmp_path: Path, stored: str
) -> None:
    ini = tmp_path / "settings.ini"
    catalog = str(tmp_path / "mine.sqlite")
    ini.write_text(f"[General]\nsettings_version={SETTINGS_VERSION}\ndevice=cpu\n"
                   f"catalog_path={catalog}\nray_address={stored}\n")
    loaded = SettingsStore(ini).load()
    assert (loaded.ray_address, loaded.catalog_path, loaded.device) == ("", catalog, "cpu")


def test_settings_saved_before_the_cluster_setting_existed_are_kept(tmp_path: Path) -> None:
    ini = tmp_path / "settings.ini"
    catalog = str(tmp_path / "mine.sqlite")
    ini.write_text(f"[General]\nsettings_version={SETTINGS_VERSION}\ndevice=cpu\n"
                   f"catalog_path={catalog}\nlast_folder=/photos\nstrictness=0.8\n")
    loaded = SettingsStore(ini).load()
    assert loaded == Settings(device="cpu", catalog_path=catalog, last_folder="/photos",
                              strictness=0.8, ray_address="")


# -- the dialog -------------------------------------------------------------------------------


def test_the_settings_dialog_refuses_a_malformed_cluster_address_and_says_why(
    qtbot: QtBot, tmp_path: Path
) -> None:
    window = open_window(qtbot, tmp_path)
    dialog = SettingsDialog(window.session.settings, window.session, window)
    qtbot.addWidget(dialog)
    buttons = dialog.findChild(QDialogButtonBox)
    assert buttons is not None
    ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert dialog.ray_address.placeholderText().startswith("address, e.g. 127.0.0.1:6379")

    dialog.ray_address.setText("head.example:70000")
    assert not ok.isEnabled()
    assert not dialog.ray_address_error.isHidden()
    assert "65535" in dialog.ray_address_error.text()
    dialog.accept()
    assert dialog.result() != SettingsDialog.DialogCode.Accepted

    dialog.ray_address.setText(" 127.0.0.1:6379 ")
    assert ok.isEnabled() and dialog.ray_address_error.isHidden()
    assert dialog.result_settings().ray_address == "127.0.0.1:6379"
    dialog.accept()
    assert dialog.result() == SettingsDialog.DialogCode.Accepted


# -- a scan -------------------------------------------------------------------------------------


def test_a_scan_started_in_the_window_runs_on_the_cluster_in_the_settings(
    qtbot: QtBot, tmp_path: Path, scans: list[ScanOptions], monkeypatch: pytest.MonkeyPatch
) -> None:
    window = open_window(qtbot, tmp_path, settings=Settings(
        catalog_path=str(tmp_path / "catalog.sqlite"), device="cpu",
        ray_address="head.example:6379"))
    started: list[Work] = []
    start_job = window.session.start_job

    def record(title: str, work: Work, **kwargs: object) -> object:
        started.append(work)
        return start_job(title, work, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(window.session, "start_job", record)
    window.scan([photos(tmp_path)])
    assert [o.ray_address for o in scans] == ["head.example:6379"]
    # A scan runs in a child process, which gets a pickled copy of the work.
    (work,) = started
    assert isinstance(work, ScanWork) and isinstance(work, ChildWork)
    sent = pickle.loads(pickle.dumps(work))
    assert sent.options.ray_address == "head.example:6379"


def test_a_cluster_that_cannot_be_reached_is_explained_without_a_traceback(
    qtbot: QtBot, tmp_path: Path, scans: list[ScanOptions]
) -> None:
    window = open_window(qtbot, tmp_path, settings=Settings(
        catalog_path=str(tmp_path / "catalog.sqlite"), device="cpu", ray_address=UNREACHABLE))
    window.scan([photos(tmp_path)])
    box = window.findChild(QMessageBox)
    assert box is not None and box.isVisible()
    assert f"Cannot reach the Ray cluster at {UNREACHABLE}" in box.text()
    assert "Traceback" not in box.text() and "ScanError" not in box.text()
    assert window.banner.title.text() == "Stopped by an error"
