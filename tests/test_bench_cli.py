#!/usr/bin/env python3
"""`mimic bench` end to end on a tiny filter: the JSON lands at
<out>/<arch>/<cpu>/<yyyymmdd>-<commit>.json with no temp file left, its context names the
commit, compiler, topology, ISAs and threads, every ISA the host runs has a row with an
accuracy counter, and bad options are refused with a message and exit status 2.

Usage: test_bench_cli.py MIMIC_EXECUTABLE
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile


def fail(msg, detail=""):
    print(f"FAIL: {msg}\n{detail}".rstrip())
    sys.exit(1)


def main():
    mimic = sys.argv[1]
    info = json.loads(subprocess.run([mimic, "info", "--json"], capture_output=True, text=True,
                                     check=True).stdout)
    isas = info["isa_supported"]
    with tempfile.TemporaryDirectory() as tmp:
        # Under the machine-wide benchmark lock, like every benchmark run (docs/benchmarks.md).
        lock = ["flock", "-w", "900", "/tmp/mimic-bench.lock"] if shutil.which("flock") else []
        r = subprocess.run([*lock, mimic, "bench", f"--out-dir={tmp}", "--threads=1",
                            "--filter=^sgemm/mimic/NN/16x16x16/", "--benchmark_min_time=0.001"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            busy = lock and not r.stdout and not r.stderr
            fail("the benchmark lock stayed busy for 900 s" if busy else
                 f"mimic bench exited with {r.returncode}", r.stdout + r.stderr)
        files = glob.glob(os.path.join(tmp, "**", "*"), recursive=True)
        files = [f for f in files if os.path.isfile(f)]
        if len(files) != 1:
            fail(f"expected one results file, found {files}")
        rel = os.path.relpath(files[0], tmp)
        if not re.fullmatch(r"[a-z0-9_]+/[a-z0-9-]+/\d{8}-[0-9a-z-]+\.json", rel):
            fail(f"results path {rel} is not <arch>/<cpu>/<date>-<commit>.json")
        with open(files[0], encoding="utf-8") as f:
            doc = json.load(f)
        ctx = doc["context"]
        for key in ("git_commit", "compiler", "hwloc_topology", "mimic_isas", "threads",
                    "cpu_model", "arch", "profile"):
            if not ctx.get(key):
                fail(f"context has no {key}", json.dumps(ctx, indent=1))
        if ctx["threads"] != "1":
            fail(f"threads in the context: {ctx['threads']}, expected 1")
        rows = {b["name"]: b for b in doc["benchmarks"]}
        for isa in ctx["mimic_isas"].split(","):
            name = f"sgemm/mimic/NN/16x16x16/isa:{isa}/threads:1/real_time"
            if name not in rows:
                fail(f"no row {name}", "\n".join(rows))
            err = rows[name].get("max_rel_err")
            if not isinstance(err, float) or not 0 <= err < 1e-5:
                fail(f"{name}: max_rel_err {err}")
        if sorted(isas) != sorted(ctx["mimic_isas"].split(",")):
            fail(f"ISAs run {ctx['mimic_isas']} != supported {isas}")
        print(f"ok: {rel}, ISAs {ctx['mimic_isas']}, commit {ctx['git_commit']}")

        for bad in (["--isa=nosuch"], ["--threads=x"], ["stray"], ["--profile=slow"]):
            r = subprocess.run([mimic, "bench", f"--out-dir={tmp}", *bad], capture_output=True,
                               text=True)
            if r.returncode != 2 or not r.stderr.strip():
                fail(f"mimic bench {' '.join(bad)}: exit {r.returncode}", r.stderr)
        print("ok: bad options refused with exit status 2")
    return 0


if __name__ == "__main__":
    sys.exit(main())
