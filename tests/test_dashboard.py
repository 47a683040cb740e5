#!/usr/bin/env python3
"""The dashboard in a real browser: renders tools/dashboard.py's page from the committed
results/ (plus a trainer JSON fixture) in headless Chromium, checks that every chart has data
points and that the console saw nothing but the page's own summary line, and saves a screenshot.

Usage: test_dashboard.py [--screenshot PNG] [--results DIR] [--chromium PATH]
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIXTURE = os.path.join(HERE, "data", "distill-quick.json")


def fail(msg, detail=""):
    print(f"FAIL: {msg}\n{detail}".rstrip())
    sys.exit(1)


def chromium(binary, profile, *args):
    cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--hide-scrollbars", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
           *args]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    except subprocess.TimeoutExpired:
        fail("chromium did not finish within 180 s")
    if r.returncode != 0:
        fail(f"chromium exited with {r.returncode}", r.stderr[-2000:])
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--screenshot", default="dashboard.png")
    ap.add_argument("--results", default=os.path.join(ROOT, "results"))
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = ap.parse_args()
    if not os.path.exists(args.chromium):
        fail("no chromium (tools/setup.sh installs Debian's chromium)")
    runs = glob.glob(os.path.join(args.results, "*", "*", "*.json"))
    if not runs:
        fail(f"no results under {args.results}")

    with tempfile.TemporaryDirectory() as tmp:
        # The committed results, and the trainer fixture beside the first machine's runs
        # (unless that machine already has its own).
        res = os.path.join(tmp, "results")
        shutil.copytree(args.results, res)
        machine = os.path.dirname(os.path.join(res, os.path.relpath(sorted(runs)[0],
                                                                      args.results)))
        if not glob.glob(os.path.join(machine, "distill-*.json")):
            shutil.copy(FIXTURE, os.path.join(machine, "distill-fixture.json"))
        page = os.path.join(tmp, "dashboard.html")
        r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "dashboard.py"),
                            "--results", res, "--out", page], capture_output=True, text=True)
        if r.returncode != 0:
            fail("dashboard.py failed", r.stdout + r.stderr)

        url = "file://" + page
        r = chromium(args.chromium, os.path.join(tmp, "p1"), "--dump-dom", url)
        dom = r.stdout
        console = [m for m in re.findall(r':CONSOLE[^\]]*\] "(.*)", source:', r.stderr)]
        m = re.search(r'<body[^>]*data-charts="(\d+)"[^>]*data-points="(\d+)"', dom)
        if not m:
            fail("the page's script did not run (no data-charts on <body>)", r.stderr[-2000:])
        charts, points = int(m[1]), int(m[2])
        per_chart = [int(n) for n in re.findall(r'<svg class="chart"[^>]*data-points="(\d+)"',
                                                dom)]
        if charts < 4 or len(per_chart) != charts:
            fail(f"expected at least 4 charts (trend, roofline, accuracy, throughput), "
                 f"found {charts}")
        if min(per_chart) == 0:
            fail(f"a chart without data points: {per_chart}")
        expected = f"dashboard: {charts} charts, {points} points"
        if console != [expected]:
            fail("console messages other than the page's summary", "\n".join(console))
        print(f"ok: {charts} charts, points per chart {per_chart}, console clean")

        shot = os.path.abspath(args.screenshot)
        chromium(args.chromium, os.path.join(tmp, "p2"), "--window-size=1400,1500",
                 f"--screenshot={shot}", url)
        with open(shot, "rb") as f:
            head = f.read(8)
        if head != b"\x89PNG\r\n\x1a\n" or os.path.getsize(shot) < 20000:
            fail(f"{shot}: not a plausible PNG screenshot")
        print(f"ok: screenshot {shot} ({os.path.getsize(shot)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
