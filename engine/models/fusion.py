"""SFace and FaceNet side by side: one embedding that is steadier on faces turned aside.

The two networks were trained apart (SFace's loss, FaceNet's triplets) and
err on different faces, so a weighted sum of their squared distances
separates people better on profiles than either alone. The fused vector is
``[sqrt(w) * sface, sqrt(1 - w) * facenet]``: both halves are unit vectors,
so it is a unit vector too and its squared distance is ``w * d_sface +
(1 - w) * d_facenet``, on the scale the clustering's thresholds were set for.

``w`` (``SFACE_WEIGHT``) was chosen on LFW, not on CFP: LFW is flat from 0.6
to 0.9 (99.23-99.27 %, one or two pairs apart, SFace alone 99.30 %), and of
its best values 0.65 gives FaceNet the most say. With it, on the CFP
development split (``bench/cfp.py``): frontal against profile 95.4 % (SFace
93.8 %, FaceNet 93.6 %), frontal against frontal 99.6 % (99.3 %), BCubed F1
of clustering every photo 0.954 (0.946). It is offered by name, not as the
default: it costs both networks' time (about 2.5 times SFace's CPU time per
crop) and its vectors do not mix with SFace's.

Each network wants its own framing, but the ``Embedder`` interface hands an
embedder one aligned crop. ``FusionEmbedder`` therefore asks for a larger
canvas (``CANVAS_SIZE``, with SFace's template at twice its scale) that holds
both framings: SFace's 112 px crop is that canvas's window shrunk by exactly
two (area averaging), FaceNet's 160 px crop the warp of the canvas that
carries SFace's template onto FaceNet's. The first is the crop SFace would
get from the photo; the second differs from FaceNet's own least-squares fit
by a pixel or so on frontal faces and a few on full profiles (median
cosine 0.994 to 0.998 between the embeddings of the two ways, CFP photos).

This module never aligns a photo itself (``engine.align`` does) and never
touches the catalog.
"""

import cv2
import numpy as np
import torch

from engine.align import similarity_transform
from engine.models.base import Embedder
from engine.models.embedding import FLIP_SUFFIX
from engine.models.facenet import CARD as FACENET_CARD
from engine.models.facenet import FaceNetEmbedder
from engine.models.sface import ARCFACE_112, SFaceEmbedder
from engine.models.sface import CARD as SFACE_CARD
from engine.models.weights import ModelCard

SFACE_WEIGHT = 0.65  # w: the share of SFace's squared distance in the fused one
# The canvas is SFace's frame at twice its scale, moved 16 px right and 5 px
# down (SFace pixels) so that FaceNet's looser, taller framing fits in it too
# (it spans x 4..108, y -1..134 of SFace's frame). The half pixel makes SFace
# pixel x the centre of canvas pixels 2x + 32 and 2x + 33.
_SCALE, _SHIFT_X, _SHIFT_Y = 2, 16, 5
CANVAS_SIZE = 288
CANVAS_TEMPLATE = tuple(
    (_SCALE * (x + _SHIFT_X) + 0.5, _SCALE * (y + _SHIFT_Y) + 0.5) for x, y in ARCFACE_112
)

CARD = ModelCard(
    name="fusion",
    architecture=(
        "SFace (128-d) and FaceNet Inception-ResNet-v1 (512-d) side by side, "
        f"weighted sqrt({SFACE_WEIGHT}) and sqrt({1 - SFACE_WEIGHT})"
    ),
    # Each part reads and verifies its own weights; the card names SFace's,
    # the first, and FaceNet's is in ``engine.models.facenet.CARD``.
    source=SFACE_CARD.source,
    input_size=(CANVAS_SIZE, CANVAS_SIZE),
    scaling="each part its own (see the sface and facenet cards)",
    dim=SFACE_CARD.dim + FACENET_CARD.dim,
    template=CANVAS_TEMPLATE,
    trained_on=f"{SFACE_CARD.trained_on}; {FACENET_CARD.trained_on}",
)


class FusionEmbedder(Embedder):
    """640-d embeddings: SFace and FaceNet of one canvas crop, weighted and joined."""

    card = CARD

    def __init__(self, device: torch.device | str = "cpu", *, flip_average: bool = False) -> None:
        super().__init__(device)
        self.name = f"{CARD.name}{FLIP_SUFFIX}" if flip_average else CARD.name
        self.flip_average = flip_average
        self.dim = CARD.dim
        self.input_size = CANVAS_SIZE
        self.template = CARD.template_array()
        self.sface = SFaceEmbedder(self.device, flip_average=flip_average)
        self.facenet = FaceNetEmbedder(self.device, flip_average=flip_average)
        self._to_facenet = _canvas_to_crop(self.template, self.facenet)

    def load(self) -> None:
        self.sface.load()
        self.facenet.load()
        self._loaded = True

    def predict(self, crops: np.ndarray) -> np.ndarray:
        self.check_crops(crops)
        sface = self.sface.predict(sface_crops(crops))
        facenet = self.facenet.predict(self.facenet_crops(crops))
        fused = np.concatenate(
            [np.sqrt(SFACE_WEIGHT) * sface, np.sqrt(1.0 - SFACE_WEIGHT) * facenet], axis=1
        )
        return fused.astype(np.float32)

    def facenet_crops(self, crops: np.ndarray) -> np.ndarray:
        """FaceNet's (N, 160, 160, 3) crops of canvas crops."""
        side = self.facenet.input_size
        out = np.empty((len(crops), side, side, 3), dtype=np.uint8)
        for i, crop in enumerate(crops):
            out[i] = cv2.warpAffine(
                crop, self._to_facenet, (side, side), flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_CONSTANT,
            )
        return out


def sface_crops(crops: np.ndarray) -> np.ndarray:
    """SFace's (N, 112, 112, 3) crops of canvas crops: the window, shrunk by two."""
    side = 112
    top, left = _SCALE * _SHIFT_Y, _SCALE * _SHIFT_X
    out = np.empty((len(crops), side, side, 3), dtype=np.uint8)
    for i, crop in enumerate(crops):
        window = crop[top : top + _SCALE * side, left : left + _SCALE * side]
        out[i] = cv2.resize(window, (side, side), interpolation=cv2.INTER_AREA)
    return out


def _canvas_to_crop(canvas_template: np.ndarray, part: Embedder) -> np.ndarray:
    """2x3 warp of a canvas crop into ``part``'s crop, as ``engine.align`` frames it.

    The similarity that carries the canvas template onto the part's template
    narrowed by its ``crop_aspect``, then the stretch across that undoes it.
    """
    centre = part.input_size / 2
    narrowed = np.asarray(part.template, dtype=np.float64).copy()
    narrowed[:, 0] = (narrowed[:, 0] - centre) / part.crop_aspect + centre
    similarity = similarity_transform(canvas_template, narrowed)
    stretch = np.array(
        [[part.crop_aspect, 0.0, centre * (1 - part.crop_aspect)], [0.0, 1.0, 0.0]]
    )
    warp: np.ndarray = stretch[:, :2] @ similarity
    warp[:, 2] += stretch[:, 2]
    return warp
