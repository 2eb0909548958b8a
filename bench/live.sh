#!/usr/bin/env bash
# Writer stall benchmark (issue 13): builds the release binary, then runs bench/live.py, which
# generates (once, kept in DATA_DIR) a database of SIZE_MIB in `delete` mode and measures an
# app-like writer (Python sqlite3, timeout 5 s, one small UPDATE per transaction, 20 and 100
# commits/s) during `snapshot`, `apply` and a live `restore --snapshot`, in `delete` and WAL
# mode, with the current method and the previous one side by side
# (`JOBSWEEP_COPY_METHOD=backup`, a hidden switch for this comparison only); first, the snapshot
# alone next to `sqlite3 .backup` + `zstd -3 -T0` + `sha256sum` of the same file (median of 3).
#
# usage: bench/live.sh [DATA_DIR] [SIZE_MIB] [RATES] [MODES] [COMMANDS]
#   defaults: ./bench-data 1024 20,100 delete,wal snapshot,apply,restore
# Heavy: about 24 runs on a 1 GiB file and 2 GB of free disk; use SIZE_MIB=256 to iterate.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=${1:-$ROOT/bench-data}
(cd "$ROOT" && cargo build --release -q)
exec python3 "$ROOT/bench/live.py" "$ROOT/target/release/jobsweep" "$DATA" "${2:-1024}" \
    "${3:-20,100}" "${4:-delete,wal}" "${5:-snapshot,apply,restore}"
