"""Thumbnail benchmark: 256-px thumbnails per second from 12-megapixel phone JPEGs, ours against naive Pillow.

    python bench/thumbnails.py [--photos 4] [--rounds 10] [--keep]

A program, not a test. It makes a few 4000 × 3000 JPEGs (gradients, shapes and sensor-like noise, quality
90, a few MB each, one of them stored sideways with EXIF orientation 6 as phones do) in a temporary folder,
then runs each variant in a fresh subprocess, one after the other, on the same files:

* ours             - media.images.make_thumbnail: JPEG draft mode at the smallest DCT scale that covers
                     256 px (1/8 for 12 MP), EXIF orientation applied, BICUBIC to 256, JPEG without metadata
* naive            - Image.open(f); im.thumbnail((256, 256)); im.save(...), as written in the issue.
                     Note: Pillow's thumbnail() itself calls draft() with reducing_gap=2.0, i.e. it decodes at
                     the scale that covers 512 px (1/4 for 12 MP), and it ignores EXIF orientation
* naive, oriented  - ImageOps.exif_transpose(Image.open(f)) and then thumbnail(): what respecting
                     orientation the obvious way costs, since transposing decodes the full 12 MP first
* ours, both       - media.images.make_derivatives: thumbnail and 1280-px preview from one decode (1/2
                     scale), the worker's actual job

A fresh process per variant makes its peak resident set (VmHWM) its own; Pillow's pixel buffers are
allocated outside Python's allocator, so tracemalloc would not see them. Prints per-variant rates, ms per
photo, peak RSS and its growth over the process's baseline, and the speed ratios; exits 2 when ours is
below 3× the naive oriented variant.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

VARIANTS = ("ours", "naive", "naive, oriented", "ours, both")


def make_photo(path: Path, seed: int, orientation: int | None = None) -> None:
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    width, height = 4000, 3000
    small = (width // 8, height // 8)
    # smooth light: two linear gradients and a radial one, scaled up like a real scene's large shapes
    red = Image.linear_gradient("L").rotate(rng.choice((0, 90, 180, 270))).resize(small)
    green = Image.radial_gradient("L").resize(small)
    blue = Image.linear_gradient("L").transpose(Image.Transpose.FLIP_TOP_BOTTOM).resize(small)
    scene = Image.merge("RGB", (red, green, blue))
    draw = ImageDraw.Draw(scene)
    for _ in range(40):  # walls, windows, a door: edges at all scales
        x, y = rng.randrange(small[0]), rng.randrange(small[1])
        w, h = rng.randrange(10, 200), rng.randrange(10, 150)
        colour = tuple(rng.randrange(256) for _ in range(3))
        (draw.rectangle if rng.random() < 0.7 else draw.ellipse)((x, y, x + w, y + h), fill=colour)
    scene = scene.resize((width, height), Image.Resampling.BICUBIC)
    # sensor-like noise in every channel: it is what makes a phone photo at quality 90 weigh 3-5 MB
    noise = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    photo = Image.blend(scene, noise, 0.12)
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    photo.save(path, "JPEG", quality=90, exif=exif)


def run_variant(variant: str, files: list[Path], rounds: int) -> dict:
    """In the child process: warm up once per file, then time `rounds` passes over the files."""
    from PIL import Image, ImageOps

    from media.images import make_derivatives, make_thumbnail

    def naive(path: Path) -> bytes:
        with open(path, "rb") as handle:
            image = Image.open(handle)
            image.thumbnail((256, 256))
            out = io.BytesIO()
            image.save(out, "JPEG")
        return out.getvalue()

    def naive_oriented(path: Path) -> bytes:
        with open(path, "rb") as handle:
            image = ImageOps.exif_transpose(Image.open(handle))
            image.thumbnail((256, 256))
            out = io.BytesIO()
            image.save(out, "JPEG")
        return out.getvalue()

    def both(path: Path) -> bytes:
        return make_derivatives(path)["thumb"]

    work = {"ours": make_thumbnail, "naive": naive, "naive, oriented": naive_oriented, "ours, both": both}[variant]
    baseline_mb = peak_rss_mb()
    sizes = {}
    for path in files:  # warm-up, and the output sizes for the report
        from PIL import Image as _Image

        sizes[path.name] = _Image.open(io.BytesIO(work(path))).size
    passes = []
    for _ in range(rounds):
        start = time.perf_counter()
        for path in files:
            work(path)
        passes.append(time.perf_counter() - start)
    return {"variant": variant, "per_pass": len(files), "passes": passes, "baseline_mb": baseline_mb,
            "peak_mb": peak_rss_mb(), "sizes": sizes}


def peak_rss_mb() -> float:
    """This process's peak resident set: VmHWM, which starts afresh at exec.

    Not ru_maxrss: Linux carries the parent's high-water mark into a forked and exec'd child, so a child of
    the process that generated the photos would report the generator's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the generated photos")
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        variant, folder = args.child
        files = sorted(Path(folder).glob("*.jpg"))
        print(json.dumps(run_variant(variant, files, args.rounds)))
        return 0

    folder = Path(tempfile.mkdtemp(prefix="zoufang-thumbs-"))
    try:
        started = time.perf_counter()
        for index in range(args.photos):
            make_photo(folder / f"photo{index}.jpg", seed=index, orientation=6 if index == 0 else None)
        sizes_mb = [p.stat().st_size / 1e6 for p in sorted(folder.glob("*.jpg"))]
        print(f"{args.photos} photos of 4000×3000 (12 MP), quality 90, "
              f"{min(sizes_mb):.1f}-{max(sizes_mb):.1f} MB each, made in {time.perf_counter() - started:.1f} s "
              f"in {folder}; photo0 has EXIF orientation 6")
        print(f"each variant: fresh process, one warm-up pass, then {args.rounds} timed passes "
              f"({args.rounds * args.photos} thumbnails); rates from the median pass (and the best); "
              f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
              f"{os.getloadavg()[0]:.1f}\n")
        results = {}
        for variant in VARIANTS:
            completed = subprocess.run([sys.executable, __file__, "--rounds", str(args.rounds),
                                        "--child", variant, str(folder)],
                                       capture_output=True, text=True, check=True)
            results[variant] = json.loads(completed.stdout.strip().splitlines()[-1])

        def rate(variant: str, pick=statistics.median) -> float:
            return results[variant]["per_pass"] / pick(results[variant]["passes"])

        print(f"{'variant':<17} {'thumbs/s':>9} {'(best)':>7} {'ms/photo':>9} {'peak RSS':>9} {'growth':>7}"
              "  output (photo0, photo1)")
        for variant, r in results.items():
            shapes = ", ".join("×".join(map(str, r["sizes"][name])) for name in sorted(r["sizes"])[:2])
            print(f"{variant:<17} {rate(variant):>9.1f} {rate(variant, min):>7.1f} {1000 / rate(variant):>9.1f} "
                  f"{r['peak_mb']:>7.0f}MB {r['peak_mb'] - r['baseline_mb']:>5.0f}MB  {shapes}")

        vs_naive, vs_oriented = rate("ours") / rate("naive"), rate("ours") / rate("naive, oriented")
        print(f"\nours vs naive thumbnail():        {vs_naive:.2f}×  (thumbnail() already drafts at 1/4; "
              "ours drafts at 1/8 and also orients)")
        print(f"ours vs naive, oriented:          {vs_oriented:.2f}×  (target ≥ 3×)")
        print(f"worker job (thumb + preview):     {rate('ours, both'):.1f} photos/s")
        return 0 if vs_oriented >= 3 else 2
    finally:
        if args.keep:
            print(f"photos kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
