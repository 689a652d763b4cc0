"""``facealbum train`` and ``facealbum adapter`` end to end, on a few demo photos."""

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.catalog import AssignedBy, Catalog, PhotoStatus
from engine.cli.main import main
from engine.models.embedding import TorchEmbedder
from engine.models.registry import embedder_names, get_detector, get_embedder
from engine.scan import ScanOptions, scan_folder
from engine.train.crops import load_crops, prepare_crops
from engine.train.registered import TrainedEmbedder

IDENTITIES = {
    "Barack_Obama": ["obama_1.jpg", "obama_2.jpg", "obama_3.jpg"],
    "Jacques_Chirac": ["chirac_1.jpg", "chirac_2.jpg", "chirac_4.jpg"],
    "Paul_Rudd": ["paul_rudd_1.jpg", "paul_rudd_2.jpg"],
}


@pytest.fixture
def people_dir(demo_dir: Path, tmp_path: Path) -> Path:
    root = tmp_path / "people"
    for person, photos in IDENTITIES.items():
        (root / person).mkdir(parents=True)
        for photo in photos:
            shutil.copy(demo_dir / photo, root / person / photo)
    return root


@pytest.mark.slow  # fine-tunes the real SFace network on demo photos
def test_train_registers_a_model_that_scan_can_use(
    people_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    torch.set_num_threads(1)
    monkeypatch.setenv("FACEALBUM_DATA_DIR", str(tmp_path / "data"))
    code = main(["train", str(people_dir), "--arch", "sface", "--name", "sface-demo",
                 "--epochs", "1", "--steps-per-epoch", "2", "-P", "3", "-K", "2",
                 "--device", "cpu", "--crops-cache", str(tmp_path / "crops"), "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["faces"] == 8 and report["steps"] == 2
    assert Path(report["path"]).is_file()
    assert (tmp_path / "data" / "models" / "sface-demo.json").is_file()
    # the crops were detected and aligned once: a second run finds them cached
    again = prepare_crops(people_dir, get_embedder("sface"), get_detector("yunet"),
                          cache_root=tmp_path / "crops")
    assert list(again) == []
    assert "sface-demo" in embedder_names()
    trained = get_embedder("sface-demo", "cpu")
    assert isinstance(trained, TrainedEmbedder)
    # the fine-tuned network still embeds, and differs a little from where it started
    crops = np.random.default_rng(0).integers(0, 255, (2, 112, 112, 3), dtype=np.uint8)
    tuned, base = trained.predict(crops), get_embedder("sface", "cpu").predict(crops)
    assert np.allclose(np.linalg.norm(tuned, axis=1), 1.0, atol=1e-4)
    assert not np.allclose(tuned, base)
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        for _ in scan_folder(catalog, people_dir / "Paul_Rudd",
                             ScanOptions(embedder="sface-demo", device="cpu")):
            pass
        ids, vectors = catalog.embeddings("sface-demo")
    assert len(ids) == 2 and vectors.shape == (2, 128)


@pytest.mark.slow  # fine-tunes the real SFace network's head on demo photos
def test_train_from_keeps_the_frozen_layers_of_the_registered_model(
    people_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    torch.set_num_threads(1)
    monkeypatch.setenv("FACEALBUM_DATA_DIR", str(tmp_path / "data"))
    code = main(["train", str(people_dir), "--name", "sface-head", "--epochs", "1",
                 "--steps-per-epoch", "2", "-P", "3", "-K", "2", "--lr", "1e-3",
                 "--train-from", "features.conv_14", "--pose-balanced", "--device", "cpu",
                 "--crops-cache", str(tmp_path / "crops"), "--json"])
    assert code == 0
    tuned = torch.load(json.loads(capsys.readouterr().out)["path"], weights_only=True)
    cached = load_crops(people_dir, get_embedder("sface"), get_detector("yunet"),
                        tmp_path / "crops")
    assert cached.yaw is not None and len(cached.yaw) == 8
    assert (cached.pose_groups() == 0).all()  # the demo photos are all frontal
    sface = get_embedder("sface", "cpu")
    assert isinstance(sface, TorchEmbedder)
    base = sface.network.state_dict()
    assert torch.equal(tuned["features.conv_13.conv.weight"], base["features.conv_13.conv.weight"])
    assert not torch.equal(tuned["features.conv_14.conv.weight"],
                           base["features.conv_14.conv.weight"])
    assert not torch.equal(tuned["fc.weight"], base["fc.weight"])
    code = main(["train", str(people_dir), "--name", "sface-head", "--train-from", "trunk",
                 "--device", "cpu", "--crops-cache", str(tmp_path / "crops"), "--fresh"])
    assert code == 2
    assert "features.conv_13_dw" in capsys.readouterr().err


def test_train_on_a_flat_folder_says_how_to_lay_out_the_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FACEALBUM_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "flat").mkdir()
    code = main(["train", str(tmp_path / "flat"), "--device", "cpu"])
    assert code == 2
    assert "DATA_DIR/<person>/<photo>" in capsys.readouterr().err


def test_adapter_commands_report_train_and_reset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "catalog.sqlite"
    with Catalog(path) as catalog:
        root = catalog.root_id("/x")
        rng = np.random.default_rng(0)
        with catalog.transaction():
            for person in range(3):
                pid = catalog._conn.execute("INSERT INTO persons(name, created_at) VALUES (?, ?)",
                                            (f"P{person}", time.time())).lastrowid
                centre = rng.normal(size=128)
                for i in range(4):
                    photo = catalog.add_photo(root, f"{person}-{i}.jpg".encode(), size=1,
                                              mtime_ns=1, sha256=None, width=1, height=1,
                                              status=PhotoStatus.OK)
                    face = catalog.add_face(photo, (0, 0, 1, 1), None, score=1, quality=1,
                                            sharpness=1, detector="t")
                    v = centre + rng.normal(size=128)
                    catalog.put_embedding(face, "sface", v / np.linalg.norm(v))
                    catalog._conn.execute("UPDATE faces SET person_id = ?, assigned_by = ?"
                                          " WHERE id = ?", (pid, AssignedBy.USER, face))
    assert main(["--catalog", str(path), "adapter", "status"]) == 0
    assert "No adapter for sface" in capsys.readouterr().out
    assert main(["--catalog", str(path), "adapter", "train", "--steps", "20", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["exists"] and status["facts"] == 12
    assert main(["--catalog", str(path), "adapter", "disable"]) == 0
    assert "disabled" in capsys.readouterr().out
    assert main(["--catalog", str(path), "adapter", "reset"]) == 0
    assert "No adapter" in capsys.readouterr().out
