#!/usr/bin/env python3
"""How long the app waits while jobsweep works on its live database (issue 13).

An app-like writer (Python sqlite3, timeout 5 s, one small UPDATE per transaction, at RATE
commits per second) runs during `snapshot`, `apply` and a live `restore --snapshot`, on a
database in `delete` mode and one in WAL mode; for each it prints the writer's worst and p99
commit wait, its "database is locked" errors and the command's time, for the current method
and for the previous one in the same run (`JOBSWEEP_COPY_METHOD=backup`: the stepped backup API
for the snapshot in rollback mode, and apply's separate quick_check of the live file), and the
ratio old/new of the worst wait. First, per mode, the snapshot alone (no writer) next to
`sqlite3 .backup` + `zstd -3 -T0` + `sha256sum` of the same file: the median of three runs of
each, alternating (NO_BASELINE=1 skips it).

usage: bench/live.py BIN DATA_DIR [SIZE_MIB] [RATES] [MODES] [COMMANDS]
  e.g. bench/live.py target/release/jobsweep bench-data 1024 20,100 delete,wal snapshot,apply,restore
Run through bench/live.sh, which builds the release binary first.
"""
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
NOW = "2026-02-25 00:45:15"


def log(*a):
    print(*a, flush=True)


def generate(data, size_mib):
    """The master databases, built once: delete mode and WAL mode, about SIZE_MIB each."""
    master = os.path.join(data, f"master-{size_mib}.db")
    if not os.path.exists(master):
        # gen_db.py writes about 13.9 KB per job (10 transcripts of ~1 KB plus indexes).
        jobs = max(1000, size_mib * 1024 * 1024 // 13900)
        stale = jobs // 20  # about 5,000 changes on 100,000 jobs, as in the issue
        log(f"generating {master} ({jobs} jobs, {stale} stale) ...")
        subprocess.run([sys.executable, os.path.join(HERE, "gen_db.py"), "current", master + ".tmp",
                        str(jobs), str(stale)], check=True)
        con = sqlite3.connect(master + ".tmp", isolation_level=None)
        con.execute("CREATE TABLE bench_writes(id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
        con.execute("INSERT INTO bench_writes(id, n) "
                    "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 1000) "
                    "SELECT i, 0 FROM k")
        con.execute("PRAGMA journal_mode = DELETE")
        con.close()
        os.rename(master + ".tmp", master)
    return master


def reset(master, db, mode):
    """A fresh working copy of the master in MODE (removes -wal/-shm/-journal of the old one)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    shutil.copyfile(master, db)
    con = sqlite3.connect(db, isolation_level=None)
    con.execute(f"PRAGMA journal_mode = {mode}")
    con.close()
    # The copy's dirty pages would otherwise be written back during the measurement, and the
    # writer's fsyncs would wait for them (whatever the method).
    os.sync()


class Writer(threading.Thread):
    """One small UPDATE per transaction at RATE commits per second; records each commit's wait."""

    def __init__(self, db, rate):
        super().__init__(daemon=True)
        self.db, self.rate = db, rate
        self.waits, self.errors = [], []
        self.stop = threading.Event()

    def run(self):
        con = sqlite3.connect(self.db, timeout=5.0)
        i = 0
        period = 1.0 / self.rate
        next_at = time.perf_counter()
        while not self.stop.is_set():
            i += 1
            t0 = time.perf_counter()
            try:
                con.execute("UPDATE bench_writes SET n = n + 1 WHERE id = ?", (i % 1000 + 1,))
                con.commit()
            except sqlite3.OperationalError as e:
                self.errors.append(str(e))
                try:
                    con.rollback()
                except sqlite3.Error:
                    pass
            self.waits.append(time.perf_counter() - t0)
            next_at += period
            delay = next_at - time.perf_counter()
            if delay > 0.002:
                time.sleep(delay)
            else:
                # Behind schedule (a slow commit): a short gap still, as an app has between its
                # requests, instead of holding the file back to back.
                time.sleep(0.002)
                next_at = time.perf_counter()
        con.close()


def run_cmd(bin_, db, store, args, env):
    full = [bin_, "-v", "--db", db, "--store", store, "--lang", "en", "--now", NOW, "--json"] + args
    t0 = time.perf_counter()
    out = subprocess.run(["/usr/bin/time", "-f", "%M"] + full, env=env, capture_output=True, text=True)
    took = time.perf_counter() - t0
    peak_kib = int(out.stderr.strip().splitlines()[-1])
    # `-v`: how long jobsweep says it held the app's writers (current method only).
    held = [line.split(" for ")[1].split(" (")[0] for line in out.stderr.splitlines()
            if line.startswith("held the app's")]
    if out.returncode != 0:
        error = " ".join(line for line in out.stderr.strip().splitlines()[:-1] if line.startswith("error"))
        return took, {"error": f"exit {out.returncode}: {error}", "held": held}, peak_kib
    report = json.loads(out.stdout)
    report["held"] = held
    return took, report, peak_kib


def measure(bin_, master, work, mode, rate, command, method):
    db = os.path.join(work, "live.db")
    store = os.path.join(work, "store")
    shutil.rmtree(store, ignore_errors=True)
    reset(master, db, mode)
    env = dict(os.environ)
    env.pop("JOBSWEEP_COPY_METHOD", None)
    if method == "old":
        env["JOBSWEEP_COPY_METHOD"] = "backup"
    args = {"snapshot": ["snapshot"], "apply": ["apply", "--max-changes", "100000"]}.get(command)
    if command == "restore":
        # The snapshot to put back, taken before the writer starts (not measured).
        _, m, _ = run_cmd(bin_, db, store, ["snapshot"], env)
        if "error" in m:
            raise SystemExit(f"the snapshot to restore failed: {m['error']}")
        con = sqlite3.connect(db)
        con.execute("UPDATE analysis_jobs SET status = 'failed' WHERE id % 100 = 0")
        con.commit()
        con.close()
        args = ["restore", "--snapshot", m["id"]]
    # Let the page cache settle after the copies.
    time.sleep(1.0)
    w = Writer(db, rate)
    w.start()
    time.sleep(1.0)  # the writer's waits outside the command, for reference
    before = len(w.waits)
    took, report, peak = run_cmd(bin_, db, store, args, env)
    during = w.waits[before:]
    time.sleep(0.5)
    w.stop.set()
    w.join()
    during_sorted = sorted(during) or [0.0]
    p99 = during_sorted[min(len(during_sorted) - 1, int(len(during_sorted) * 0.99))]
    extra = f" lock held {'+'.join(report['held'])}" if report.get("held") else ""
    if "error" in report:
        extra += f" FAILED {report['error']}"
    if command == "apply" and "error" not in report:
        t = report["timings"]
        extra += (f" beyond-snapshot={(t['total_ms'] - t['snapshot_ms']) / 1000:.2f}s"
                 f" (survey {t['survey_ms'] / 1000:.2f}s, transaction {t['transaction_ms'] / 1000:.2f}s)"
                 f" changes={len(report['changed'])}")
    return {
        "worst": max(during_sorted), "p99": p99, "locked": len(w.errors), "took": took,
        "commits": len(during), "peak_mib": peak / 1024, "extra": extra,
    }


def baseline(db, work):
    """`sqlite3 .backup` + `zstd -3 -T0` + `sha256sum` of the same file (no verification), and
    the same followed by `sync`: the pipeline leaves its 1.2 GB unwritten in the page cache,
    where jobsweep's snapshot is on disk (fsynced) when it ends."""
    tmp = os.path.join(work, "pipeline.db")
    t0 = time.perf_counter()
    subprocess.run(["sqlite3", db, f".backup {tmp}"], check=True)
    subprocess.run(["zstd", "-q", "-f", "-3", "-T0", tmp, "-o", tmp + ".zst"], check=True)
    subprocess.run(["sha256sum", tmp + ".zst"], check=True, capture_output=True)
    took = time.perf_counter() - t0
    os.sync()
    synced = time.perf_counter() - t0
    for f in (tmp, tmp + ".zst"):
        os.remove(f)
    return took, synced


ROUNDS = 3


def alone(bin_, master, work, mode):
    """The snapshot with no writer, next to the pipeline on the same file: ROUNDS of each,
    alternating, each after the other's files are removed and synced (the pipeline leaves its
    1.2 GB in the page cache, unwritten, which would otherwise be written back during the next
    run, and freed blocks are discarded at the next journal commit). Returns the medians (jobsweep, pipeline, pipeline + sync), or None without the
    pipeline's tools."""
    if not all(shutil.which(t) for t in ("sqlite3", "zstd", "sha256sum")):
        return None
    db, store = os.path.join(work, "live.db"), os.path.join(work, "store")
    reset(master, db, mode)
    env = dict(os.environ)
    env.pop("JOBSWEEP_COPY_METHOD", None)
    ours, theirs, synced = [], [], []
    shutil.rmtree(store, ignore_errors=True)
    for _ in range(ROUNDS):
        # Each run's files are removed after it, then synced and left to settle, so that
        # neither run pays for the other's removals (on a disk mounted with `discard`).
        os.sync()
        time.sleep(2.0)
        took, report, _ = run_cmd(bin_, db, store, ["snapshot"], env)
        if "error" in report:
            raise SystemExit(f"snapshot failed: {report['error']}")
        ours.append(took)
        shutil.rmtree(store, ignore_errors=True)
        os.sync()
        time.sleep(2.0)
        took, took_synced = baseline(db, work)
        theirs.append(took)
        synced.append(took_synced)
    shutil.rmtree(store, ignore_errors=True)
    return statistics.median(ours), statistics.median(theirs), statistics.median(synced)


def main():
    bin_, data = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    size_mib = int(sys.argv[3]) if len(sys.argv) > 3 else 1024
    rates = [int(r) for r in (sys.argv[4] if len(sys.argv) > 4 else "20,100").split(",")]
    modes = (sys.argv[5] if len(sys.argv) > 5 else "delete,wal").split(",")
    commands = (sys.argv[6] if len(sys.argv) > 6 else "snapshot,apply,restore").split(",")
    os.makedirs(data, exist_ok=True)
    master = generate(data, size_mib)
    work = os.path.join(data, "live-run")
    os.makedirs(work, exist_ok=True)
    log(f"database {os.path.getsize(master) / 2**20:.0f} MiB; targets (delete mode): worst wait <= 0.5 s "
        f"(snapshot, apply), <= 1.0 s (restore), no 'locked' errors; WAL: <= 0.1 s (snapshot, apply)")
    # NO_BASELINE=1 skips the comparison with the pipeline (to iterate on the waits alone).
    if "snapshot" in commands and not os.environ.get("NO_BASELINE"):
        for mode in modes:
            medians = alone(bin_, master, work, mode)
            if medians is None:
                log("no sqlite3, zstd or sha256sum: the snapshot's time is not compared")
                break
            ours, theirs, synced = medians
            log(f"{mode:6} snapshot alone (no writer, median of {ROUNDS}): jobsweep {ours:.2f} s, "
                f"sqlite3 .backup + zstd -3 -T0 + sha256sum {theirs:.2f} s, "
                f"ratio {ours / theirs:.2f} (target <= 1.00); "
                f"with its files synced as the snapshot's are {synced:.2f} s, ratio {ours / synced:.2f}")
    log(f"{'mode':6} {'rate':>4} {'command':8} {'method':6} {'worst':>7} {'p99':>7} {'locked':>6} "
        f"{'time':>7} {'peak':>8}  commits")
    for mode in modes:
        for command in commands:
            for rate in rates:
                res = {}
                for method in ("new", "old"):
                    r = measure(bin_, master, work, mode, rate, command, method)
                    res[method] = r
                    log(f"{mode:6} {rate:>4} {command:8} {method:6} {r['worst']:6.3f}s {r['p99']:6.3f}s "
                        f"{r['locked']:>6} {r['took']:6.2f}s {r['peak_mib']:6.1f}MiB  {r['commits']}{r['extra']}")
                ratio = res["old"]["worst"] / max(res["new"]["worst"], 1e-6)
                tratio = res["old"]["took"] / max(res["new"]["took"], 1e-6)
                log(f"{'':6} {'':>4} {command:8} ratio  worst wait old/new {ratio:.1f}x, time old/new {tratio:.2f}x")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
