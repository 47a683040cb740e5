#!/usr/bin/env python3
"""Print the softmax rows of mimic_bench JSON files as one Markdown table (docs/softmax.md).

Usage: softmax_table.py [--filter REGEX] LABEL=FILE.json [LABEL=FILE.json ...]
Each file becomes a group of columns: time per call, GB/s (bytes read + written), frac_copy
(same-run fraction of memcpy's bandwidth on the same bytes) and vs_onednn (same-run speed
ratio, > 1: mimic faster). Rows are the benchmark names, in the first file's order.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from bench_table import cell, print_table  # noqa: E402  (the GEMM table's reading and layout)


def time_cell(b):
    return cell(b, "real_time", "{:.3g}" if b and b["real_time"] < 1000 else "{:.0f}")


def main():
    print_table("softmax_table", __doc__, [
        ("µs", time_cell),
        ("GB/s", lambda b: cell(b, "GB/s", "{:.1f}")),
        ("frac_copy", lambda b: cell(b, "frac_copy", "{:.2f}")),
        ("vs oneDNN", lambda b: cell(b, "vs_onednn", "{:.2f}×")),
    ])


if __name__ == "__main__":
    main()
