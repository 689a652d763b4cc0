"""How fast 12 MP JPEGs can be decoded to the scan's detection size, on the CPU and the GPU.

The scan decodes each photo with Pillow's draft mode (``engine.imageio.decode``:
libjpeg scales by 1/2, 1/4 or 1/8 while decoding) to a long side of at least
``DETECT_SIDE``. This prints that decode's photos/s on 1, 4 and all threads
beside nvJPEG's on the GPU (``torchvision.io.decode_jpeg`` on cuda, batched,
at full size, then resized on the device to the same long side), so the
decode floor a GPU scan can reach is measured, not guessed. Usage:

    .venv/bin/python bench/jpeg_decode.py [--limit 16] [--copies 4] [--device cuda]

Without a CUDA device only the CPU rows are printed.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from camera_files import DEMO, make_files  # noqa: E402

from engine.detect import DETECT_SIDE  # noqa: E402
from engine.imageio import decode  # noqa: E402


def cpu_rate(datas: list[bytes], threads: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(lambda d: decode(d, min_side=DETECT_SIDE), datas):
            pass
    return len(datas) / (time.perf_counter() - start)


def gpu_rate(datas: list[bytes], device: torch.device, batch: int) -> float:
    from torchvision.io import decode_jpeg

    tensors = [torch.frombuffer(bytearray(d), dtype=torch.uint8) for d in datas]

    def run() -> None:
        for i in range(0, len(tensors), batch):
            images = decode_jpeg(tensors[i:i + batch], device=device)
            for image in images:
                h, w = image.shape[-2:]
                s = DETECT_SIDE / max(h, w)
                F.interpolate(image[None].float(), size=(round(h * s), round(w * s)),
                              mode="area")
        torch.cuda.synchronize(device)

    run()  # nvJPEG's handles and the allocator are made on the first call
    start = time.perf_counter()
    run()
    return len(datas) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=16, help="demo photos enlarged")
    parser.add_argument("--copies", type=int, default=4, help="times each file is decoded")
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    try:
        make_files(sorted(DEMO.glob("*.jpg"))[: args.limit], folder / "jpeg", "jpeg")
        datas = [p.read_bytes() for p in sorted((folder / "jpeg").iterdir())] * args.copies
        megabytes = sum(map(len, datas)) / len(datas) / 1e6
        print(f"{len(datas)} decodes of 12 MP JPEGs ({megabytes:.1f} MB each) to a long side "
              f">= {DETECT_SIDE} px")
        cores = os.cpu_count() or 1
        for threads in sorted({1, min(4, cores), cores}):
            print(f"  Pillow draft, {threads} threads: {cpu_rate(datas, threads):.1f} photos/s")
        device = torch.device(args.device)
        if device.type == "cuda" and torch.cuda.is_available():
            for batch in (1, 16, 64):
                print(f"  nvJPEG on {torch.cuda.get_device_name(device)}, batches of {batch}, "
                      f"full size then resized: {gpu_rate(datas, device, batch):.1f} photos/s")
        else:
            print(f"  no CUDA device ({args.device}): nvJPEG not measured")
    finally:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
