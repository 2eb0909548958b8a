#!/usr/bin/env bash
# Replica upload benchmark (issue 10): `jobsweep snapshot push` to a local S3-protocol server
# (s3s-fs on 127.0.0.1) against `aws s3 cp` of the same compressed file to the same server,
# side by side, with and without age encryption, and the peak memory of each.
# Targets: push within 1.2x `aws s3 cp`; peak memory <= 64 MiB at any size; encryption adds
# <= 10% to the upload time.
#
# Usage: bench/replica.sh [DATA_DIR] [SIZE_MIB]
#   DATA_DIR defaults to ./bench-data (gitignored), SIZE_MIB to 1024. The database is
#   bench/snapshot.sh's when it is there, else made with bench/gen_db.py; this script takes one
#   snapshot of it and uploads that snapshot three times: plaintext, encrypted, and with
#   aws s3 cp.
# Needs: s3s-fs (cargo install s3s-fs --version '~0.14' --locked --features binary),
# age-keygen (Debian package age), aws (awscli, for the side-by-side figure; skipped with a
# note when missing), /usr/bin/time.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=${1:-$ROOT/bench-data}
SIZE_MIB=${2:-1024}
DB=$DATA/bench.db
WORK=$DATA/replica
BIN=$ROOT/target/release/jobsweep

for tool in s3s-fs age-keygen /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is needed" >&2; exit 2; }
done
(cd "$ROOT" && cargo build --release -q)
if [ ! -s "$DB" ]; then
    # bench/snapshot.sh makes the same kind of database (and times snapshots too); without it,
    # gen_db.py: about 10 KiB of transcript rows per job, so SIZE_MIB * 100 jobs.
    echo "generating a database of about $SIZE_MIB MiB at $DB ..."
    mkdir -p "$DATA"
    python3 "$ROOT/bench/gen_db.py" current "$DB" $((SIZE_MIB * 100))
fi
echo "database: $(( $(stat -c %s "$DB") / 1048576 )) MiB"
rm -rf "$WORK"
mkdir -p "$WORK/s3/bench" "$WORK/store"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
s3s-fs --host 127.0.0.1 --port "$port" --access-key bench --secret-key benchsecret \
    "$WORK/s3" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; true' EXIT
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=benchsecret AWS_REGION=us-east-1
export AWS_ENDPOINT_URL=http://127.0.0.1:$port
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done

age-keygen -o "$WORK/key.txt" 2>/dev/null
public=$(sed -n 's/^# public key: //p' "$WORK/key.txt")

# One snapshot, no replica yet.
"$BIN" --db "$DB" --store "$WORK/store" -q snapshot
id=$(ls "$WORK/store/snapshots" | sed -n 's/\.json$//p' | head -n 1)
file="$WORK/store/snapshots/$id.db.zst"
mib=$(( $(stat -c %s "$file") / 1048576 ))
echo "snapshot $id: $mib MiB compressed"

# measure LABEL CMD...: wall seconds and peak RSS (MiB) of one run.
measure() {
    label=$1
    shift
    /usr/bin/time -f '%e %M' -o "$WORK/time" "$@" >/dev/null
    read -r secs kib <"$WORK/time"
    printf '%-28s %8.2f s %8d MiB peak\n' "$label" "$secs" $((kib / 1024))
    echo "$secs" >"$WORK/$label.secs"
}

measure plaintext "$BIN" --db "$DB" --store "$WORK/store" -q \
    --replica "s3://bench/plain" --replica-plaintext snapshot push "$id"
measure encrypted "$BIN" --db "$DB" --store "$WORK/store" -q \
    --replica "s3://bench/age" --replica-recipient "$public" snapshot push "$id"
if command -v aws >/dev/null; then
    measure aws-s3-cp aws s3 cp --only-show-errors "$file" "s3://bench/awscli/$id.db.zst"
    python3 - "$WORK" <<'PY'
import sys
w = sys.argv[1]
t = {k: float(open(f"{w}/{k}.secs").read()) for k in ("plaintext", "encrypted", "aws-s3-cp")}
print(f"push / aws s3 cp: {t['plaintext'] / t['aws-s3-cp']:.2f}x (target <= 1.2x)")
print(f"encrypted / plaintext: {t['encrypted'] / t['plaintext']:.2f}x (target <= 1.10x)")
PY
else
    echo "aws (awscli) is not installed: no side-by-side figure"
fi
