#!/usr/bin/env bash
# CI's benchmark step: the quick suite (build/bench-results/), then the regression gate against
# the newest committed quick baseline (by the date it recorded) of this machine's architecture
# and CPU model (results/<arch>/<cpu>/*-quick.json), skipped with a message where there is none.
# The gate (tools/compare.py) checks the accuracy (max_rel_err must not grow) of every quick
# row, and the speed (same-run ratio to oneDNN, 15 % tolerance) of the one-thread SIMD sgemm
# and convolution rows: on this small shared machine the other rows' ratios swing by 20-70 %
# with whatever else runs (measurements in docs/benchmarks.md). A slow row is measured again,
# up to twice; it passes if any measurement is within the tolerance of the lowest ratio among
# the committed runs of this machine (a high outlier in one baseline run cannot fail it).
# MIMIC_GATE_TOLERANCE and MIMIC_GATE_ROWS (a regex of the speed-gated rows) override these.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bench/mimic_bench
out=build/bench-results
tol=${MIMIC_GATE_TOLERANCE:-0.15}
rows=${MIMIC_GATE_ROWS:-'^(sgemm|conv)/.*/isa:(avx2|avx512|neon)/threads:1$'}
py=$(command -v /usr/bin/python3 || command -v python3)
[[ -x $bin ]] || { echo "bench_gate: $bin missing: build with -DMIMIC_BUILD_BENCH=ON" >&2; exit 2; }

rm -rf "$out"
mkdir -p "$out"
start=$SECONDS
flock /tmp/mimic-bench.lock "$bin" --profile=quick --results="$out" | tee "$out/quick.log"
new=$(sed -n 's/^results: //p' "$out/quick.log")
[[ -n $new && -f $new ]] || { echo "bench_gate: the quick suite wrote no results" >&2; exit 1; }
echo "bench_gate: quick suite took $((SECONDS - start)) s: $new"

machine=$(dirname "${new#"$out"/}") # <arch>/<cpu>
# The newest by the date the run recorded (file names sort by date, then by commit hash).
baseline=$("$py" - "results/$machine" <<'EOF'
import glob, json, os, sys
def recorded(f):
    try:
        with open(f) as fh:
            return json.load(fh)["context"].get("date", "")
    except (OSError, ValueError, KeyError):
        return ""
runs = glob.glob(os.path.join(sys.argv[1], "*-quick.json"))
print(max(runs, key=lambda f: (recorded(f), f)) if runs else "")
EOF
)
if [[ -z $baseline ]]; then
  echo "bench_gate: SKIPPED: no committed quick baseline in results/$machine/ for this CPU" \
    "model (to add one: bash tools/bench.sh --quick, then commit the file)"
  exit 0
fi

# Every other committed run of this machine (the full baseline, older quick ones) also counts
# as a baseline for speed: a row fails only if it is slower than all of them.
also=()
while IFS= read -r f; do
  [[ $f != "$baseline" ]] && also+=(--also-baseline "$f")
done < <(find "results/$machine" -maxdepth 1 -name '*.json' ! -name 'distill-*' | sort)

runs=("$new")
for attempt in 1 2 3; do
  rc=0
  "$py" tools/compare.py --no-table --tolerance "$tol" --speed-filter "$rows" "${also[@]}" \
    --retry-filter "$out/retry.txt" "$baseline" "${runs[@]}" || rc=$?
  ((rc == 1)) && [[ -s $out/retry.txt && $attempt -lt 3 ]] || exit "$rc"
  echo "bench_gate: measuring the slow rows again (attempt $((attempt + 1)) of 3)"
  again="$out/retry$attempt.json"
  flock /tmp/mimic-bench.lock "$bin" --profile=quick --benchmark_filter="$(cat "$out/retry.txt")" \
    --benchmark_out="$again" --benchmark_out_format=json >/dev/null
  runs+=("$again")
done
