#!/usr/bin/env python3
"""Print the softmax rows of mimic_bench JSON files as one Markdown table (docs/softmax.md).

Usage: softmax_table.py [--filter REGEX] LABEL=FILE.json [LABEL=FILE.json ...]
Each file becomes a group of columns: time per call, GB/s (bytes read + written), frac_copy
(same-run fraction of memcpy's bandwidth on the same bytes) and vs_onednn (same-run speed
ratio, > 1: mimic faster). Rows are the benchmark names, in the first file's order.
"""
import argparse
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from bench_table import cell, load  # noqa: E402  (the GEMM table's JSON reading)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--filter", default="", help="only rows whose name matches this regex")
    ap.add_argument("runs", nargs="+", help="LABEL=FILE.json")
    args = ap.parse_args()
    runs = []
    for spec in args.runs:
        label, sep, path = spec.partition("=")
        if not sep:
            sys.exit(f"softmax_table: expected LABEL=FILE.json, got {spec!r}")
        runs.append((label, load(path)))
    names = [n for n in runs[0][1] if re.search(args.filter, n)]
    head = ["benchmark"]
    for label, _ in runs:
        head += [f"{label} µs", "GB/s", "frac_copy", "vs oneDNN"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for n in names:
        line = [n]
        for _, rows in runs:
            b = rows.get(n)
            t = cell(b, "real_time", "{:.3g}" if b and b["real_time"] < 1000 else "{:.0f}")
            line += [t, cell(b, "GB/s", "{:.1f}"),
                     cell(b, "frac_copy", "{:.2f}"), cell(b, "vs_onednn", "{:.2f}×")]
        print("| " + " | ".join(line) + " |")


if __name__ == "__main__":
    main()
