#!/usr/bin/env bash
# The frame pipeline (inference.frame_pipeline) against one frame at a time, alternated in ONE run so that a
# shared, noisy machine affects both alike. Run from the repository root after `make venv`:
#
#     fea_ros/scripts/bench_frame_pipeline.sh [OUT_DIR] [ROUNDS]
#
# Each round runs, in turn: fea-ros bench (both clips, full and fast) sequential then pipelined, and
# fea-ros replay of the 3-face sample bag (decode included; full and fast) sequential then pipelined. Each
# row's output goes to OUT_DIR/<row>.md (the command and the load average first); a summary of the fps and
# CPU ms/frame per row is printed at the end (fea_ros/scripts/frame_pipeline_summary.py).
set -euo pipefail
OUT=${1:-out/frame_pipeline}
ROUNDS=${2:-3}
PY=${PY:-.venv/bin/python}
BAG=fea_ros/samples/bags/faces3_mcap
mkdir -p "$OUT"
rm -f "$OUT"/*.md "$OUT"/*.log
row() {  # row NAME COMMAND...: run it, keep stdout under a header with the command and the load average
  local name=$1; shift
  echo "== $name: $* (load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%H:%M:%S) UTC)" | tee "$OUT/$name.md" >&2
  "$@" >> "$OUT/$name.md" 2>> "$OUT/$name.log"
}
echo "start $(date -u +%FT%T) UTC, load average $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/load.txt"
for n in $(seq 1 "$ROUNDS"); do
  row "bench_${n}_a_sequential" "$PY" -m fea_ros.cli bench --markdown --no-frame-pipeline
  row "bench_${n}_b_pipelined" "$PY" -m fea_ros.cli bench --markdown --frame-pipeline
  for fast in "" "--fast"; do
    label=${fast:+_fast}
    row "replay_${n}_a_sequential${label}" "$PY" -m fea_ros.cli replay "$BAG" --no-progress --no-frame-pipeline $fast
    row "replay_${n}_b_pipelined${label}" "$PY" -m fea_ros.cli replay "$BAG" --no-progress --frame-pipeline $fast
  done
done
echo "end $(date -u +%FT%T) UTC, load average $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/load.txt"
"$PY" fea_ros/scripts/frame_pipeline_summary.py "$OUT"
