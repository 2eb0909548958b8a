#!/usr/bin/env python3
"""Builds a large database of the app for benchmarks: JOBS jobs, about 10 result rows each with
realistic transcript text (about 1 KiB, varied), in the current or legacy schema.

usage: gen_db.py current|legacy PATH [JOBS] [STALE]
STALE jobs are left pending/processing for days (default 1% of JOBS); ~1% are still running.
"""
import os
import random
import sqlite3
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures")

WORDS = ("안녕하세요 고객님 상담원 입니다 요금제 변경 문의 주셔서 감사합니다 해당 상품은 원금 손실 "
         "가능성이 있습니다 가입 조건 확인 부탁드립니다 네 알겠습니다 혹시 다른 궁금한 점 있으실까요 "
         "보험료 납입 기간 만기 환급금 해지 시 불이익 약관 설명 녹취 동의 개인정보 수집 이용 "
         "카드 결제일 이자율 대출 한도 신용 점수 본인 확인 생년월일 주소 연락처 문자 발송").split()


def text_pool(n, rng):
    """n different transcripts of 700-1300 bytes: compressible like real text, not trivially."""
    pool = []
    for _ in range(n):
        words = []
        size = 0
        target = rng.randint(700, 1300)
        while size < target:
            w = rng.choice(WORDS)
            if rng.random() < 0.08:
                w = f"{rng.randint(1, 99999):05d}"
            words.append(w)
            size += len(w.encode()) + 1
        pool.append(" ".join(words))
    return pool


def main():
    variant, path = sys.argv[1], sys.argv[2]
    jobs = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
    stale = int(sys.argv[4]) if len(sys.argv) > 4 else jobs // 100
    rng = random.Random(7)
    if os.path.exists(path):
        os.remove(path)
    con = sqlite3.connect(path, isolation_level=None)
    con.executescript(open(os.path.join(FIXTURES, f"schema-{variant}.sql"), encoding="utf-8").read())
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("CREATE TEMP TABLE pool(i INTEGER PRIMARY KEY, t TEXT)")
    con.executemany("INSERT INTO pool VALUES (?, ?)", enumerate(text_pool(4096, rng)))
    con.execute("BEGIN")
    # Jobs: the newest `stale` are pending/processing and left for days; 1% more are running now.
    con.execute(f"""
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {jobs})
        INSERT INTO analysis_jobs (job_id, emp_id, folder_path, file_ids, files_hash, status, options,
                                   created_at, started_at, completed_at)
        SELECT printf('job_%08d', i), printf('emp%03d', i % 200),
               printf('/data/uploads/emp%03d/상담녹음_%06d', i % 200, i),
               (SELECT json_group_array(printf('call_%d_%d.wav', i, k)) FROM (SELECT 1 k UNION SELECT 2 UNION SELECT 3
                 UNION SELECT 4 UNION SELECT 5 UNION SELECT 6 UNION SELECT 7 UNION SELECT 8 UNION SELECT 9 UNION SELECT 10)),
               printf('%064x', i * 7919),
               CASE WHEN i > {jobs} - {stale} THEN (CASE WHEN i % 3 = 0 THEN 'processing' ELSE 'pending' END)
                    WHEN i > {jobs} - {stale} - {jobs // 100} THEN 'processing'
                    WHEN i % 50 = 0 THEN 'failed' ELSE 'completed' END,
               '{{}}',
               CASE WHEN i > {jobs} - {stale} - {jobs // 100} AND i <= {jobs} - {stale}
                    THEN datetime('2026-02-24 20:00:00', printf('+%d seconds', i % 3600))
                    ELSE datetime('2025-06-01 00:00:00', printf('+%d minutes', i * 3)) END,
               NULL, NULL
        FROM n""")
    con.execute("UPDATE analysis_jobs SET started_at = datetime(created_at, '+1 minutes')")
    result_cols = ("job_id, file_id, stt_text, stt_metadata, classification_code, status, updated_at, created_at"
                   if variant == "current" else "job_id, file_id, stt_text, stt_metadata, classification_code, created_at")
    status_expr = ("CASE WHEN j.status = 'completed' OR k <= 4 THEN 'completed' ELSE 'processing' END, "
                   "datetime(j.created_at, printf('+%d minutes', k * 2)), " if variant == "current" else "")
    con.execute(f"""
        WITH RECURSIVE f(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM f WHERE k < 10)
        INSERT INTO analysis_results ({result_cols})
        SELECT j.job_id, printf('call_%d_%d.wav', j.id, k),
               CASE WHEN j.status = 'completed' OR k <= 4 THEN (SELECT t FROM pool WHERE i = (j.id * 10 + k) % 4096) END,
               json_object('duration_sec', (j.id + k) % 600, 'engine', 'whisper-large-v3'), 'C01',
               {status_expr}
               datetime(j.created_at, printf('+%d minutes', k * 2))
        FROM analysis_jobs j JOIN f""")
    con.execute("COMMIT")
    con.close()
    print(f"{path}: {variant}, {jobs} jobs, {os.path.getsize(path) / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
