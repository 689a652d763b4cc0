"""Training augmentations of aligned face crops, done on the device in batches.

Flip, crop jitter (a small random scale, shift and rotation of the aligned
crop, which is what imperfect landmarks do to a real crop) and colour
(brightness, contrast, saturation). They act on float RGB pixels in 0..255,
before the network's own scaling, so one code path serves every embedder and
runs on the GPU as well as the CPU. This module never reads files.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Augment:
    flip: float = 0.5  # probability of a horizontal flip
    scale: float = 0.08  # crop scale drawn from 1 +- scale
    shift: float = 0.05  # shift drawn from +- shift of the crop side
    rotate: float = 8.0  # degrees, +-
    brightness: float = 0.2  # factor drawn from 1 +- brightness
    contrast: float = 0.2
    saturation: float = 0.2

    def __call__(self, pixels: torch.Tensor, generator: torch.Generator | None = None
                 ) -> torch.Tensor:
        """Augmented copy of (N, 3, S, S) float pixels in 0..255."""
        n = pixels.shape[0]
        dev = pixels.device

        def uniform(spread: float) -> torch.Tensor:
            return (torch.rand(n, generator=generator) * 2 - 1).mul(spread).to(dev)

        x = _jitter(pixels, 1 + uniform(self.scale), uniform(self.shift), uniform(self.shift),
                    uniform(self.rotate * math.pi / 180))
        flip = (torch.rand(n, generator=generator) < self.flip).to(dev)
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
        x = x * (1 + uniform(self.brightness))[:, None, None, None]
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * (1 + uniform(self.contrast))[:, None, None, None] + mean
        grey = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2])[:, None]
        x = (x - grey) * (1 + uniform(self.saturation))[:, None, None, None] + grey
        return x.clamp(0, 255)


def _jitter(x: torch.Tensor, scale: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor,
            angle: torch.Tensor) -> torch.Tensor:
    """Resample each crop through its own small similarity transform."""
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([
        torch.stack([cos, -sin, 2 * dx], dim=1),
        torch.stack([sin, cos, 2 * dy], dim=1),
    ], dim=1).to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
