#!/usr/bin/env bash
# Snapshot benchmark (issue 3): `jobsweep snapshot` against a careful operator's pipeline.
#
# Generates (once) a database of about 1 GiB in the app's current schema, filled with
# transcript-like Korean text that is varied and not trivially compressible, then measures in
# one run:
#   1. `jobsweep snapshot` (release build; copy, compress, checksum AND verify) against
#      `sqlite3 db ".backup tmp"` + `zstd -3 -T0` + `sha256sum` (no verification);
#   2. the output size against `zstd -3 -T0` and `zstd -3 --single-thread` of the same image;
#   3. peak memory (max RSS from /usr/bin/time) of each;
#   4. `jobsweep restore --snapshot ID --to PATH` (verify + integrity_check included) against
#      `zstd -d` + `cp`.
# Targets: snapshot time <= pipeline time, size within 2% of zstd -3, peak memory < 64 MiB.
#
# Usage: bench/snapshot.sh [DATA_DIR] [SIZE_MIB]
#   DATA_DIR defaults to ./bench-data (gitignored); SIZE_MIB to 1024.
#   The generated database is kept and reused; delete DATA_DIR to start over.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=${1:-$ROOT/bench-data}
SIZE_MIB=${2:-1024}
DB=$DATA/bench.db
WORK=$DATA/run
BIN=$ROOT/target/release/jobsweep

for tool in sqlite3 zstd sha256sum python3 /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is needed" >&2; exit 2; }
done

mkdir -p "$DATA"
(cd "$ROOT" && cargo build --release -q)

if [ ! -s "$DB" ]; then
    echo "generating a ${SIZE_MIB} MiB database at $DB ..."
    python3 - "$DB" "$SIZE_MIB" "$ROOT/fixtures/schema-current.sql" <<'PY'
import itertools, json, random, sqlite3, sys
db, size_mib, schema = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rng = random.Random(20260225)
# A vocabulary of made-up Hangul words plus real call-centre words, drawn with a Zipf-like
# weighting, so the text compresses like speech transcripts (about 3-4x), not like a repeated
# string.
def syllable():
    return chr(0xAC00 + rng.randrange(11172))
vocab = ["".join(syllable() for _ in range(rng.choice((1, 2, 2, 3, 3, 4)))) for _ in range(20000)]
vocab += ("고객님 안녕하세요 네 그러니까 보험 가입 해지 약관 설명 드리겠습니다 확인 "
          "월 납입 보장 혜택 상품 만기 환급 카드 결제 통화 녹음 동의 하시겠습니까 "
          "아니요 잠시만요 죄송합니다 감사합니다 다시 말씀해 주시겠어요").split()
weights = [1.0 / (i + 1) ** 0.9 for i in range(len(vocab))]
rng.shuffle(weights)
cum = list(itertools.accumulate(weights))   # choices() would redo this on every call
ends = [".", ".", ",", "?", "!", "..."]
def utterance():
    words = rng.choices(vocab, cum_weights=cum, k=rng.randint(4, 18))
    if rng.random() < 0.15:
        words.append(f"{rng.randint(10, 999)},{rng.randint(0, 999):03d}원")
    if rng.random() < 0.05:
        words.append(f"010-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}")
    return " ".join(words) + rng.choice(ends)
conn = sqlite3.connect(db)
conn.executescript(open(schema).read())
conn.execute("PRAGMA journal_mode = DELETE")
conn.execute("PRAGMA synchronous = OFF")
target = size_mib * 1024 * 1024
job = 0
while True:
    pages = conn.execute("PRAGMA page_count").fetchone()[0] * 4096
    if pages >= target:
        break
    conn.execute("BEGIN")
    for _ in range(200):
        job += 1
        job_id = f"job_{job:08x}"
        files = [f"f{job}_{i}" for i in range(rng.randint(5, 20))]
        conn.execute(
            "INSERT INTO analysis_jobs(job_id, emp_id, folder_path, file_ids, status, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (job_id, f"E{rng.randint(1, 500):04d}", f"/data/uploads/영업_녹취/{job}",
             json.dumps(files), rng.choice(["completed"] * 30 + ["pending", "processing", "failed"]),
             f"2026-0{rng.randint(1, 2)}-{rng.randint(10, 28)} {rng.randint(10, 23)}:{rng.randint(10, 59)}:00"))
        for f in files:
            speaker = ["상담원", "고객"]
            text = "\n".join(f"[{speaker[i % 2]}] {utterance()}" for i in range(rng.randint(10, 60)))
            meta = {"duration": round(rng.uniform(30, 900), 2), "lang": "ko", "model": "whisper-large-v3",
                    "segments": rng.randint(10, 200)}
            conn.execute(
                "INSERT INTO analysis_results(job_id, file_id, stt_text, stt_metadata, classification_code, "
                "classification_category, classification_confidence, status, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'completed', datetime('now'))",
                (job_id, f, text, json.dumps(meta), f"C{rng.randint(1, 40):02d}",
                 rng.choice(["정상", "부적절 권유", "불완전 판매", "확인 필요"]), rng.random()))
    conn.execute("COMMIT")
conn.close()
PY
fi

rm -rf "$WORK" && mkdir -p "$WORK"
IMAGE_BYTES=$(stat -c %s "$DB")
cat "$DB" > /dev/null   # same warm page cache for every contender

# Runs a command under /usr/bin/time; prints "seconds max_rss_kib".
measure() {
    local out=$WORK/time.txt
    /usr/bin/time -f "%e %M" -o "$out" "$@" >/dev/null
    cat "$out"
}
add() { python3 -c "import sys; print(round(sum(float(a) for a in sys.argv[1:]), 2))" "$@"; }
maxk() { python3 -c "import sys; print(max(int(a) for a in sys.argv[1:]))" "$@"; }
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.3f}')" "$1" "$2"; }

echo "database: $DB ($(( IMAGE_BYTES / 1048576 )) MiB), $(nproc) CPUs"

# 1. jobsweep snapshot (copy + compress + both checksums + verification + integrity_check).
read -r JS_T JS_M < <(measure "$BIN" -q --db "$DB" --store "$WORK/store" snapshot)
ZST=$(ls "$WORK"/store/snapshots/*.db.zst)
ID=$(basename "$ZST" .db.zst)
JS_SIZE=$(stat -c %s "$ZST")

# 2. The operator's pipeline, no verification.
read -r P1_T P1_M < <(measure sqlite3 "$DB" ".backup '$WORK/backup.db'")
read -r P2_T P2_M < <(measure zstd -3 -T0 -q -f "$WORK/backup.db" -o "$WORK/backup.db.zst")
read -r P3_T P3_M < <(measure sha256sum "$WORK/backup.db" "$WORK/backup.db.zst")
PIPE_T=$(add "$P1_T" "$P2_T" "$P3_T")
PIPE_M=$(maxk "$P1_M" "$P2_M" "$P3_M")
Z_SIZE=$(stat -c %s "$WORK/backup.db.zst")
zstd -3 --single-thread -q -f "$WORK/backup.db" -o "$WORK/backup.st.zst"
ZST_SIZE=$(stat -c %s "$WORK/backup.st.zst")

# 3. Restore to a new file vs zstd -d + cp.
read -r JR_T JR_M < <(measure "$BIN" -q --db "$DB" --store "$WORK/store" restore --snapshot "$ID" --to "$WORK/restored.db")
read -r R1_T R1_M < <(measure zstd -d -q -f "$WORK/backup.db.zst" -o "$WORK/unz.db")
read -r R2_T R2_M < <(measure cp "$WORK/unz.db" "$WORK/copied.db")
RPIPE_T=$(add "$R1_T" "$R2_T")
RPIPE_M=$(maxk "$R1_M" "$R2_M")
WANT=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['image_sha256'])" "$WORK/store/snapshots/$ID.json")
GOT=$(sha256sum "$WORK/restored.db" | cut -d' ' -f1)
[ "$WANT" = "$GOT" ] && SAME="matches the manifest's image_sha256" || SAME="DIFFERS from the manifest ($GOT vs $WANT)"

printf '\n%-44s %10s %12s\n' "" "seconds" "peak RSS"
printf '%-44s %10s %9s MiB\n' "jobsweep snapshot (verified)" "$JS_T" "$(( JS_M / 1024 ))"
printf '%-44s %10s %9s MiB\n' "sqlite3 .backup + zstd -3 -T0 + sha256sum" "$PIPE_T" "$(( PIPE_M / 1024 ))"
printf '%-44s %10s %9s\n' "  (.backup / zstd / sha256sum)" "$P1_T/$P2_T/$P3_T" ""
printf '%-44s %10s %9s MiB\n' "jobsweep restore --to (verified)" "$JR_T" "$(( JR_M / 1024 ))"
printf '%-44s %10s %9s MiB\n' "zstd -d + cp" "$RPIPE_T" "$(( RPIPE_M / 1024 ))"
echo
echo "time   snapshot / pipeline:        $(ratio "$JS_T" "$PIPE_T")  (target <= 1)"
echo "time   restore / (zstd -d + cp):   $(ratio "$JR_T" "$RPIPE_T")"
echo "size   jobsweep $JS_SIZE B, zstd -3 -T0 $Z_SIZE B, zstd -3 single-thread $ZST_SIZE B"
echo "size   jobsweep / zstd -3 -T0:     $(ratio "$JS_SIZE" "$Z_SIZE")  (target <= 1.02)"
echo "size   jobsweep / zstd -3 (1 thr): $(ratio "$JS_SIZE" "$ZST_SIZE")"
echo "ratio  compressed / image:         $(ratio "$JS_SIZE" "$IMAGE_BYTES")"
echo "memory jobsweep snapshot peak:     $(( JS_M / 1024 )) MiB (target < 64), restore $(( JR_M / 1024 )) MiB"
echo "restored file:                     $SAME"
rm -rf "$WORK"
