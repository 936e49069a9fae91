#!/usr/bin/env bash
# Before/after speed measurements of issue 12 in ONE run, interleaved, so that a shared, noisy machine
# affects both sides alike. Run from the repository root after `make venv`:
#
#     fea_ros/scripts/bench_speed_round2.sh [BASE_COMMIT] [OUT_DIR]
#
# BASE_COMMIT (default bdd176a, main before issue 12) is exported with `git archive` into OUT_DIR/before and
# run with the same venv through PYTHONPATH; "after" is this checkout. Each row's output goes to
# OUT_DIR/<row>.md (the command and the load average first); all are printed at the end.
#   cpu_*     scripts/cpu_time_bench.py: process CPU time per frame (1 ONNX Runtime thread, stages in turn);
#             a busy machine moves it far less than wall time, so before/after compare best here
#   bench_*   fea-ros bench (wall time; 1 and 2 threads; --mediapipe adds MediaPipe on the same clips)
#   replay_*  fea-ros replay of the 3-face sample bag, decode included (wall time), twice each
set -euo pipefail
BASE=${1:-bdd176a}
OUT=${2:-out/speed_round2}
PY=${PY:-.venv/bin/python}
BAG=fea_ros/samples/bags/faces3_mcap
mkdir -p "$OUT"
rm -rf "$OUT/before" && mkdir -p "$OUT/before"
git archive "$BASE" fea_ros | tar -x -C "$OUT/before"
BEFORE="$OUT/before/fea_ros"

before() { PYTHONPATH="$BEFORE" "$PY" "$@"; }
after() { "$PY" "$@"; }
row() {  # row NAME COMMAND...: run it, keep stdout under a header with the command and the load average
  local name=$1; shift
  echo "== $name: $* (load average $(cut -d' ' -f1-3 /proc/loadavg))" | tee "$OUT/$name.md" >&2
  "$@" >> "$OUT/$name.md" 2>> "$OUT/$name.log"
}
CPU=fea_ros/scripts/cpu_time_bench.py

echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/load.txt"
row cpu_1_before before "$CPU" --label before --header
row cpu_2_after after "$CPU" --label after
row cpu_3_after_int8 after "$CPU" --label "after, precision int8" --precision int8 --configs full
row cpu_4_before before "$CPU" --label "before (again)"
row cpu_5_after after "$CPU" --label "after (again)"
for n in 1 2; do
  row "replay_${n}_before" before -m fea_ros.cli replay "$BAG" --no-progress
  row "replay_${n}_after_prefetch" after -m fea_ros.cli replay "$BAG" --no-progress --prefetch
  row "replay_${n}_after" after -m fea_ros.cli replay "$BAG" --no-progress
  row "replay_${n}_after_stage2" after -m fea_ros.cli replay "$BAG" --no-progress --stage-threads 2
  row "replay_${n}_after_stage2_fast" after -m fea_ros.cli replay "$BAG" --no-progress --stage-threads 2 --fast
  row "replay_${n}_before_fast" before -m fea_ros.cli replay "$BAG" --no-progress --fast
done
row bench_1_after after -m fea_ros.cli bench --markdown --mediapipe
row bench_2_after_stage2 after -m fea_ros.cli bench --markdown --stage-threads 2
row bench_3_after_threads2 after -m fea_ros.cli bench --markdown --threads 2 --stage-threads 2
row bench_4_before before -m fea_ros.cli bench --markdown
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/load.txt"
for f in "$OUT"/*.md; do echo; cat "$f"; done
