"""Time and memory of photo ingest per 12-megapixel JPEG, beside Pillow's own open + thumbnail.

Times come from one process that runs the sides interleaved on the same generated JPEG files
(so that other load on the machine hits them alike). Memory is measured for each side in a fresh
process: how far one call raises the peak RSS (VmHWM, reset through /proc/self/clear_refs) above
the RSS before it, which counts Pillow's C buffers that tracemalloc cannot see.
The ratio compares ingest with Pillow's thumbnail to 1600 px, the size of our display copy
(the same output, while ingest also writes the original, a thumbnail and hashes); Pillow's
thumbnail to 320 px is shown too. Target (issue 3): under 200 ms and at most 1.5× the baseline.

    python -m bench.bench_evidence            # BENCH_EVIDENCE_RUNS=8 photos per side by default
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT = 4000, 3000
SIDES = {
    "ingest": "ingest (display 1600 + thumb 320)",
    "pillow1600": "Pillow open + thumbnail(1600)",
    "pillow320": "Pillow open + thumbnail(320)",
}


def _operation(side: str, out: Path):
    """Return a function doing one side's work on JPEG bytes."""
    import io

    from PIL import Image

    from bot.services.evidence import MB, EvidenceStore

    if side == "ingest":
        store = EvidenceStore(out, max_bytes=50 * MB)
        return store.ingest
    limit = 1600 if side == "pillow1600" else 320

    def thumbnail(data: bytes) -> None:
        with Image.open(io.BytesIO(data)) as image:
            image.thumbnail((limit, limit))

    return thumbnail


def _status_kb(field: str) -> int:
    """Return a memory figure of this process from /proc/self/status (VmRSS, VmHWM) in kB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _child_memory(side: str, folder: Path) -> dict:
    """In this fresh process: how far one call raises the peak RSS above the RSS before it."""
    data = sorted(folder.glob("*.jpg"))[0].read_bytes()
    with tempfile.TemporaryDirectory(prefix="bench-evidence-out-") as out:
        work = _operation(side, Path(out))
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
        before = _status_kb("VmRSS")
        work(data)
        return {"peak_mb": (_status_kb("VmHWM") - before) / 1024}


def _child_time(folder: Path) -> dict:
    """In one process, time every side on each photo, interleaved so that load hits them alike."""
    photos = [p.read_bytes() for p in sorted(folder.glob("*.jpg"))]
    times: dict[str, list[float]] = {side: [] for side in SIDES}
    with tempfile.TemporaryDirectory(prefix="bench-evidence-out-") as out:
        work = {side: _operation(side, Path(out) / side) for side in SIDES}
        for side in SIDES:
            work[side](photos[0])  # warm up codecs and caches
        for i, data in enumerate(photos[1:]):  # distinct photos: ingest must really write each one
            order = list(SIDES)[i % len(SIDES):] + list(SIDES)[:i % len(SIDES)]
            for side in order:
                start = time.perf_counter()
                work[side](data)
                times[side].append(time.perf_counter() - start)
    return {side: {"median_ms": statistics.median(t) * 1000, "min_ms": min(t) * 1000}
            for side, t in times.items()}


def _in_child(*args: str) -> dict:
    """Run this module with ``args`` in a new interpreter and return the JSON it prints."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "bench.bench_evidence", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=900)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run() -> list[dict]:
    """Generate 12-megapixel JPEGs, measure ingest and the Pillow baselines; return the table rows."""
    from tests.services.images import make_jpeg

    runs = int(os.environ.get("BENCH_EVIDENCE_RUNS", "8"))
    with tempfile.TemporaryDirectory(prefix="bench-evidence-") as tmp:
        folder = Path(tmp)
        sizes = []
        for i in range(runs + 1):
            data = make_jpeg(WIDTH, HEIGHT, seed=i, noise=0.2, quality=92)
            (folder / f"photo{i:03d}.jpg").write_bytes(data)
            sizes.append(len(data))
        figures = _in_child("--time", str(folder))
        for side in SIDES:
            figures[side].update(_in_child("--memory", side, str(folder)))
    ours, base = figures["ingest"], figures["pillow1600"]
    rows = [{"name": "photo", "value": statistics.mean(sizes) / 2**20, "unit": "MB",
             "note": f"{WIDTH}x{HEIGHT} JPEG with EXIF, quality 92, {runs} timed runs per side"}]
    for side, label in SIDES.items():
        fig = figures[side]
        rows.append({"name": f"{label}: time", "value": fig["median_ms"], "unit": "ms",
                     "note": f"median of {runs} (sides interleaved); min {fig['min_ms']:.1f} ms"})
        rows.append({"name": f"{label}: peak memory", "value": fig["peak_mb"], "unit": "MB",
                     "note": "one call's peak RSS above the RSS before it (fresh process)"})
    rows += [
        {"name": "ratio time ingest / thumbnail(1600)", "value": ours["median_ms"] / base["median_ms"],
         "unit": "x", "note": "target <= 1.5 and ingest < 200 ms"},
        {"name": "ratio memory ingest / thumbnail(1600)",
         "value": ours["peak_mb"] / max(base["peak_mb"], 0.1), "unit": "x", "note": ""},
        {"name": "ratio time ingest / thumbnail(320)",
         "value": ours["median_ms"] / figures["pillow320"]["median_ms"], "unit": "x",
         "note": "for 320 px libjpeg decodes at 1/4 scale; a 1600 px copy needs 1/2 (4x the pixels)"},
    ]
    return rows


def _print(rows: list[dict]) -> None:
    width = max(len(r["name"]) for r in rows)
    for row in rows:
        value = row["value"]
        shown = f"{value:,.2f}" if isinstance(value, float) else str(value)
        print(f"{row['name']:<{width}}  {shown:>10} {row['unit']:<3}  {row['note']}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--time"]:
        print(json.dumps(_child_time(Path(sys.argv[2]))))
    elif sys.argv[1:2] == ["--memory"]:
        print(json.dumps(_child_memory(sys.argv[2], Path(sys.argv[3]))))
    else:
        _print(run())
