#!/usr/bin/env python3
"""Benchmark of `check` (issue 2): 100,000 jobs and ~1,000,000 result rows (~1 GiB with
transcripts) in both schema variants. Prints the median of warm runs and the peak memory, and the
same figures for two baselines measured in the same run: a re-creation of the old script's
algorithm (one query per job; current schema only: on the legacy schema every one of those
queries is a full scan and it runs for many minutes), and a naive one-pass aggregate
(`GROUP BY job_id` over all result rows, Python's sqlite3).

usage: python3 bench/check.py [--jobs N] [--runs N]      (builds bench-data/ on first use)
"""
import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "bench-data")
BIN = os.path.join(ROOT, "target", "release", "jobsweep")
NOW = "2026-02-25 00:45:15"

NAIVE_PASS = r'''
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("SELECT status, count(*) FROM analysis_jobs GROUP BY status").fetchall()
con.execute("SELECT job_id, count(*), max(created_at) FROM analysis_results GROUP BY job_id").fetchall()
'''

OLD_SCRIPT = r'''
import sqlite3, sys, datetime
con = sqlite3.connect(sys.argv[1])
now = datetime.datetime(2026, 2, 25, 0, 45, 15)
for status, n in con.execute("SELECT status, count(*) FROM analysis_jobs GROUP BY status"): pass
cutoff = (now - datetime.timedelta(hours=24)).strftime("%Y-%m-%d %H:%M:%S")
old = con.execute("SELECT count(*) FROM analysis_jobs WHERE created_at < ?", ((now - datetime.timedelta(days=7)).strftime("%Y-%m-%d %H:%M:%S"),)).fetchone()
jobs = con.execute("SELECT id, job_id, status, folder_path, created_at FROM analysis_jobs "
                   "WHERE status IN ('pending','processing') AND created_at < ?", (cutoff,)).fetchall()
for (id_, job_id, status, folder, created) in jobs:
    con.execute("SELECT count(*) FROM analysis_results WHERE job_id = ?", (id_,)).fetchone()
    print(job_id, status, folder, created)
'''


def timed(cmd, runs):
    """Median wall time of `runs` runs after one warm-up, and the peak RSS (MiB) seen."""
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    times, peak = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True, check=True)
        times.append(time.perf_counter() - start)
        peak = max(peak, int(out.stderr.strip().splitlines()[-1]) / 1024)
    return statistics.median(times), peak


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    os.makedirs(DATA, exist_ok=True)
    print(f"{'variant':8} {'command':22} {'median s':>9} {'peak MiB':>9} {'vs base':>7}")
    for variant in ["current", "legacy"]:
        db = os.path.join(DATA, f"check-{variant}-{args.jobs}.db")
        if not os.path.exists(db):
            subprocess.run([sys.executable, os.path.join(ROOT, "bench", "gen_db.py"), variant, db,
                            str(args.jobs)], check=True)
        results = sqlite3.connect(db).execute("SELECT count(*) FROM analysis_results").fetchone()[0]
        size = os.path.getsize(db) / 2**20
        print(f"# {variant}: {args.jobs} jobs, {results} result rows, {size:.0f} MiB")
        naive, naive_peak = timed([sys.executable, "-c", NAIVE_PASS, db], args.runs)
        base = naive
        if variant == "current":
            old, old_peak = timed([sys.executable, "-c", OLD_SCRIPT, db], args.runs)
            print(f"{variant:8} {'old algorithm (python)':22} {old:9.3f} {old_peak:9.1f} {old / naive:7.2f}")
        print(f"{variant:8} {'naive one pass (base)':22} {naive:9.3f} {naive_peak:9.1f} {1:7.2f}")
        for label, extra in [("check", ["check"]), ("check --stats", ["check", "--stats"]),
                             ("check --json", ["--json", "check"])]:
            secs, peak = timed([BIN, "--db", db, "--now", NOW, "--lang", "en"] + extra, args.runs)
            print(f"{variant:8} {label:22} {secs:9.3f} {peak:9.1f} {secs / base:7.2f}")


if __name__ == "__main__":
    main()
