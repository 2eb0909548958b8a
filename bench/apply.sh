#!/usr/bin/env bash
# Benchmarks of issue 4, on databases built with SQL (`WITH RECURSIVE`, seconds to build):
#
#  1. apply on 100,000 jobs of which 10,000 are stale: the time beyond the snapshot (journal +
#     transaction + journal commit, target < 1 s), that it is one transaction, and how long a
#     concurrent writer (the app) is blocked: a writer inserts progress rows in a loop during the
#     whole run and its longest wait is compared with the transaction time apply reports.
#  2. diff of two snapshots of a ~1 GiB database (target < 30 s), including the decompression
#     and verification of both images.
#
# usage: bench/apply.sh [WORKDIR]      (needs sqlite3 and python3; builds the release binary)
#        SIZE_JOBS=100000 STALE=10000 DIFF_RESULTS_PER_JOB=10 bench/apply.sh /tmp/bench
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
BIN="$PWD/target/release/jobsweep"
WORK="${1:-$(mktemp -d)}"
mkdir -p "$WORK"
JOBS="${SIZE_JOBS:-100000}"
STALE="${STALE:-10000}"
NOW="2026-02-25 00:45:15"

# gen PATH RESULTS_PER_JOB TEXT_CHARS: JOBS jobs, every (JOBS/STALE)-th pending or processing and
# days old (half of those with one completed file -> completed, the rest -> failed), the others
# completed; RESULTS_PER_JOB result rows of Korean transcript text per job.
gen() {
    local path="$1" per="$2" chars="$3"
    rm -f "$path"
    sqlite3 "$path" < fixtures/schema-current.sql
    sqlite3 "$path" <<SQL
PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; -- build speed only
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $JOBS)
INSERT INTO analysis_jobs (id, job_id, emp_id, folder_path, file_ids, files_hash, status, options,
                           created_at, started_at, completed_at)
SELECT i, printf('job_%07d', i), printf('emp%03d', i % 200),
       printf('/data/uploads/emp%03d/batch_%07d', i % 200, i),
       '[' || substr(replace(printf('%.*c', $per, 'x'), 'x', ',"call.wav"'), 2) || ']',
       printf('%064x', i * 7919),
       CASE WHEN i % ($JOBS / $STALE) <> 0 THEN 'completed'
            WHEN i % 3 = 0 THEN 'processing' ELSE 'pending' END,
       '{"language":"ko"}',
       datetime('2026-02-23 00:00:00', printf('-%d minutes', i)),
       datetime('2026-02-23 00:01:00', printf('-%d minutes', i)),
       CASE WHEN i % ($JOBS / $STALE) <> 0 THEN datetime('2026-02-23 00:20:00', printf('-%d minutes', i)) END
FROM n;
WITH RECURSIVE f(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM f WHERE k < $per),
     t(s) AS (SELECT replace(printf('%.*c', 400, 'x'), 'x',
                 '안녕하세요 고객님 상담원입니다 요금제 변경 문의 주셔서 감사합니다 해당 상품은 원금 손실 가능성이 있습니다 '))
INSERT INTO analysis_results (job_id, file_id, stt_text, stt_metadata, classification_code,
                              classification_category, classification_confidence,
                              improper_detection_results, incomplete_detection_results, status,
                              updated_at, created_at)
SELECT j.job_id, printf('call_%d_%d.wav', j.id, f.k),
       printf('%05d ', (j.id * 31 + f.k) % 99991) || substr(t.s, 1 + (j.id * 7 + f.k * 13) % 500, $chars),
       '{"duration_sec": 184, "engine": "whisper"}', 'C01', '정상', 0.93, '[]', '[]',
       CASE WHEN j.status = 'completed' OR (f.k = 1 AND j.id % 2 = 0) THEN 'completed' ELSE 'pending' END,
       datetime(j.created_at, printf('+%d minutes', f.k)), datetime(j.created_at, printf('+%d minutes', f.k))
FROM analysis_jobs j JOIN f JOIN t;
COMMIT;
PRAGMA journal_mode = DELETE;
SQL
}

secs() { python3 -c 'import time; print(time.monotonic())'; }

echo "== 1. apply: $JOBS jobs, $STALE stale"
DB="$WORK/apply/database.db"
mkdir -p "$WORK/apply"
t0=$(secs); gen "$DB" 3 150; t1=$(secs)
printf 'built %s (%s MiB) in %.1f s\n' "$DB" "$(( $(stat -c %s "$DB") / 1048576 ))" "$(echo "$t1 - $t0" | bc)"

# The app: one progress row per write, each write timed, for as long as apply runs.
rm -f "$WORK/apply/writer.txt.stop"   # left by an earlier run in the same WORKDIR
python3 - "$DB" "$WORK/apply/writer.txt" <<'PY' &
import sqlite3, sys, time, os
db, out = sys.argv[1], sys.argv[2]
conn = sqlite3.connect(db, timeout=60, isolation_level=None)
worst = 0.0; n = 0
stop = out + ".stop"
while not os.path.exists(stop):
    t = time.monotonic()
    conn.execute("INSERT INTO analysis_progress (job_id, step, status, timestamp) VALUES ('job_bench', 'stt', 'running', datetime('now'))")
    worst = max(worst, time.monotonic() - t); n += 1
    time.sleep(0.002)
open(out, "w").write(f"{n} {worst * 1000:.1f}\n")
PY
WRITER=$!
sleep 0.5
t0=$(secs)
"$BIN" --db "$DB" --now "$NOW" --json apply --max-changes "$STALE" > "$WORK/apply/report.json"
t1=$(secs)
touch "$WORK/apply/writer.txt.stop"; wait "$WRITER"
python3 - "$WORK/apply/report.json" "$WORK/apply/writer.txt" "$(echo "$t1 - $t0" | bc)" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); t = r["timings"]
writes, worst = open(sys.argv[2]).read().split()
beyond = t["journal_ms"] + t["transaction_ms"]
print(f"changed {len(r['changed'])} jobs, skipped {len(r['skipped'])}, in one transaction")
print(f"wall {float(sys.argv[3]):.2f} s; survey {t['survey_ms']:.0f} ms, snapshot {t['snapshot_ms']:.0f} ms, "
      f"journal (planned + committed) {t['journal_ms']:.0f} ms, transaction {t['transaction_ms']:.1f} ms")
print(f"apply beyond the snapshot: {beyond:.0f} ms (target < 1000 ms)")
print(f"concurrent writer: {writes} writes, longest wait {worst} ms (whole run, snapshot included)")
PY

echo "== 2. diff of two snapshots of a ~1 GiB database"
DB="$WORK/diff/database.db"
mkdir -p "$WORK/diff"
t0=$(secs); gen "$DB" "${DIFF_RESULTS_PER_JOB:-10}" 330; t1=$(secs)
printf 'built %s (%s MiB) in %.1f s\n' "$DB" "$(( $(stat -c %s "$DB") / 1048576 ))" "$(echo "$t1 - $t0" | bc)"
"$BIN" --db "$DB" --now "$NOW" --json apply --max-changes "$STALE" > "$WORK/diff/apply.json"
# A second snapshot, of the state after apply.
"$BIN" --db "$DB" --json snapshot --note after-apply > "$WORK/diff/snap.json"
FROM=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot_id"])' "$WORK/diff/apply.json")
TO=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d.get("id") or d.get("snapshot", {}).get("id"))' "$WORK/diff/snap.json")
t0=$(secs)
"$BIN" --db "$DB" --json diff "$FROM" "$TO" > "$WORK/diff/diff.json"
t1=$(secs)
python3 - "$WORK/diff/diff.json" "$(echo "$t1 - $t0" | bc)" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print("tables:", [(t["table"], t["added"], t["removed"], t["changed"]) for t in d["tables"]])
print(f"diff {d['from']['id']} -> {d['to']['id']}: {float(sys.argv[2]):.1f} s (target < 30 s)")
PY
