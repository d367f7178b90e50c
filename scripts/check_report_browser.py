"""Open a `cascade eval` report in headless Chromium and check that every <video> decodes and plays.

Usage: python scripts/check_report_browser.py REPORT_DIR [--chromium /usr/bin/chromium] [--screenshot out.png]
Needs Debian's chromium package (apt-get install chromium). Exits 0 when all videos played, 1 otherwise.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def check(report_dir: Path, chromium: str, budget_ms: int = 10000, screenshot: Path | None = None) -> tuple[int, int, int]:
    page = (report_dir / "index.html").resolve()
    if not page.exists():
        raise SystemExit(f"{page} does not exist; run `cascade eval ... --out {report_dir}` first")
    flags = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--mute-audio",
             "--autoplay-policy=no-user-gesture-required", "--allow-file-access-from-files",
             f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}", f"--virtual-time-budget={budget_ms}"]
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    if screenshot is not None:
        subprocess.run([*flags, f"--screenshot={screenshot}", "--window-size=1200,900", page.as_uri()],
                       capture_output=True, timeout=120)
    total = len(re.findall(r"<video\b", dom))
    m = re.search(r'id="video-status"[^>]*data-playing="(\d+)"[^>]*data-errors="(\d+)"', dom)
    if m is None:
        m = re.search(r'data-playing="(\d+)"[^>]*data-errors="(\d+)"[^>]*id="video-status"', dom)
    playing, errors = (int(m.group(1)), int(m.group(2))) if m else (0, total)
    return total, playing, errors


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report_dir", type=Path)
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    ap.add_argument("--screenshot", type=Path)
    args = ap.parse_args()
    total, playing, errors = check(args.report_dir, args.chromium, screenshot=args.screenshot)
    print(f"{playing}/{total} videos played in headless Chromium, {errors} failed to load")
    return 0 if total and playing == total and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
