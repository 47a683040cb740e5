#!/usr/bin/env python3
"""Print Google Benchmark JSON files from mimic_bench as one Markdown table.

Usage: bench_table.py [--filter REGEX] LABEL=FILE.json [LABEL=FILE.json ...]
Each file becomes a group of columns (GFLOP/s, peak fraction, speed vs oneDNN and OpenBLAS,
the last two measured in the same run); rows are the benchmark names, in the first file's
order. Only the Python standard library is used.
"""
import argparse
import json
import re
import sys


def load(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    rows = {}
    for b in doc.get("benchmarks", []):
        if b.get("run_type", "iteration") != "iteration" or b.get("error_occurred"):
            continue
        rows[b["name"].replace("/real_time", "")] = b
    return rows


def cell(b, key, fmt):
    if b is None or key not in b:
        return ""
    value = b[key]
    if key == "GFLOP/s" or key == "GB/s":
        value = value / 1e9 if value > 1e6 else value  # rates are stored per second
    return fmt.format(value)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--filter", default="", help="only rows whose name matches this regex")
    ap.add_argument("runs", nargs="+", help="LABEL=FILE.json")
    args = ap.parse_args()
    runs = []
    for spec in args.runs:
        label, sep, path = spec.partition("=")
        if not sep:
            sys.exit(f"bench_table: expected LABEL=FILE.json, got {spec!r}")
        runs.append((label, load(path)))
    names = [n for n in runs[0][1] if re.search(args.filter, n)]
    head = ["benchmark"]
    for label, _ in runs:
        head += [f"{label} GFLOP/s", "peak", "vs oneDNN", "vs OpenBLAS"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for n in names:
        line = [n]
        for _, rows in runs:
            b = rows.get(n)
            line += [cell(b, "GFLOP/s", "{:.1f}"), cell(b, "peak_frac", "{:.2f}"),
                     cell(b, "vs_onednn", "{:.2f}×"), cell(b, "vs_openblas", "{:.2f}×")]
        print("| " + " | ".join(line) + " |")


if __name__ == "__main__":
    main()
