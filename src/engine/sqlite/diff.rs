//! The row-level comparison of two SQLite files, done inside SQLite: both files are ATTACHed
//! read-only to one in-memory connection and every table is compared by its primary key
//! (declared key columns, or the rowid of a table without one, under a name no column hides), so
//! memory stays flat however large the files are. `analysis_jobs` rows are also listed one by
//! one, named by `job_id`, with the columns that changed.

use std::collections::BTreeSet;
use std::path::Path;

use super::sqlite_error;
use crate::core::diff::{ColumnChange, DbDiff, JobRowDiff, TableDiff, TableNote};
use anyhow::Result;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

/// A file path as an SQLite URI opened read-only (`?mode=ro`), with the characters URIs reserve
/// percent-encoded so any path works.
fn read_only_uri(path: &Path) -> Result<String> {
    let absolute =
        std::path::absolute(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let mut uri = String::from("file:");
    // The path's own bytes (percent-encoded), so a path that is not UTF-8 opens the same file.
    #[cfg(unix)]
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(absolute.as_os_str()).to_vec();
    #[cfg(not(unix))]
    let bytes = absolute.to_string_lossy().into_owned().into_bytes();
    for byte in &bytes {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                uri.push(*byte as char)
            }
            other => uri.push_str(&format!("%{other:02X}")),
        }
    }
    uri.push_str("?mode=ro");
    Ok(uri)
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A table's shape on one side.
struct Shape {
    columns: Vec<String>,
    key: Vec<String>,
    without_rowid: bool,
}

/// The app's tables: SQLite's own and jobsweep's outcome record (design.md §4.2) are left out.
fn tables(conn: &Connection, schema: &str) -> rusqlite::Result<Vec<(String, String)>> {
    let sql = format!(
        "SELECT name, coalesce(sql, '') FROM {schema}.sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND coalesce(sql, '') NOT LIKE 'CREATE VIRTUAL%' \
         AND name <> '{}' ORDER BY name",
        crate::journal::OUTCOMES_TABLE
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

fn shape(conn: &Connection, schema: &str, table: &str, sql: &str) -> rusqlite::Result<Shape> {
    let mut stmt = conn.prepare("SELECT name, pk FROM pragma_table_info(?1, ?2) ORDER BY cid")?;
    let cols: Vec<(String, i64)> = stmt
        .query_map([table, schema], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut key: Vec<(i64, String)> = cols
        .iter()
        .filter(|(_, pk)| *pk > 0)
        .map(|(n, pk)| (*pk, n.clone()))
        .collect();
    key.sort();
    let squashed: String = sql
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    Ok(Shape {
        columns: cols.into_iter().map(|(n, _)| n).collect(),
        key: key.into_iter().map(|(_, n)| n).collect(),
        without_rowid: squashed.contains(")WITHOUTROWID"),
    })
}

/// Compares `from` with `to`, two SQLite files, without changing either.
pub fn diff_files(from: &Path, to: &Path) -> Result<DbDiff> {
    let conn = Connection::open_with_flags(
        ":memory:",
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| sqlite_error(from, e))?;
    conn.execute("ATTACH DATABASE ?1 AS a", [read_only_uri(from)?])
        .map_err(|e| sqlite_error(from, e))?;
    conn.execute("ATTACH DATABASE ?1 AS b", [read_only_uri(to)?])
        .map_err(|e| sqlite_error(to, e))?;
    // A page cache per side keeps the index lookups of the joins off the OS; 12 MiB each keeps
    // a live restore (which diffs two images) within the 64 MiB memory bound (its bench showed
    // 155 MiB with 64 MiB per side).
    conn.execute_batch("PRAGMA a.cache_size = -12288; PRAGMA b.cache_size = -12288;")
        .map_err(|e| sqlite_error(from, e))?;
    // One read transaction: a live file being written meanwhile is seen at one moment.
    conn.execute_batch("BEGIN")
        .map_err(|e| sqlite_error(to, e))?;
    let result = compare(&conn, from, to);
    let _ = conn.execute_batch("COMMIT");
    result
}

fn compare(conn: &Connection, from: &Path, to: &Path) -> Result<DbDiff> {
    let a_tables = tables(conn, "a").map_err(|e| sqlite_error(from, e))?;
    let b_tables = tables(conn, "b").map_err(|e| sqlite_error(to, e))?;
    let names: BTreeSet<&String> = a_tables.iter().chain(&b_tables).map(|(n, _)| n).collect();
    let mut out = DbDiff {
        tables: Vec::new(),
        identical_tables: 0,
        jobs: Vec::new(),
    };
    for name in names {
        let a_sql = a_tables.iter().find(|(n, _)| n == name).map(|(_, s)| s);
        let b_sql = b_tables.iter().find(|(n, _)| n == name).map(|(_, s)| s);
        let q = quote(name);
        let count = |schema: &str, path: &Path| -> Result<u64> {
            conn.query_row(&format!("SELECT count(*) FROM {schema}.{q}"), [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(|e| sqlite_error(path, e))
        };
        let (a_sql, b_sql) = match (a_sql, b_sql) {
            (Some(a), Some(b)) => (a, b),
            (Some(_), None) => {
                out.tables.push(TableDiff {
                    table: name.clone(),
                    key: String::new(),
                    added: 0,
                    removed: count("a", from)?,
                    changed: 0,
                    note: Some(TableNote::OnlyInFrom),
                });
                continue;
            }
            (None, Some(_)) => {
                out.tables.push(TableDiff {
                    table: name.clone(),
                    key: String::new(),
                    added: count("b", to)?,
                    removed: 0,
                    changed: 0,
                    note: Some(TableNote::OnlyInTo),
                });
                continue;
            }
            (None, None) => continue,
        };
        let a = shape(conn, "a", name, a_sql).map_err(|e| sqlite_error(from, e))?;
        let b = shape(conn, "b", name, b_sql).map_err(|e| sqlite_error(to, e))?;
        let mut note = None;
        if a.columns != b.columns {
            note = Some(TableNote::ColumnsDiffer {
                from: a.columns.clone(),
                to: b.columns.clone(),
            });
        }
        // The declared key when both sides agree on it; else the rowid, which the backup API
        // and ordinary writes keep stable for rowid tables. A real column named `rowid` (or
        // `_rowid_`, `oid`) hides that name, so the first of the three no column uses is taken.
        let rowid_tables = !a.without_rowid && !b.without_rowid;
        let alias = rowid_alias(&a.columns, &b.columns).filter(|_| rowid_tables);
        let key: Vec<String> = if !a.key.is_empty() && a.key == b.key {
            a.key.clone()
        } else if let Some(alias) = alias {
            vec![alias.to_string()]
        } else if rowid_tables {
            // All three names are columns: rows can only be matched as a whole.
            let table = whole_rows(conn, name, &a, &b, note, from, to)?;
            if table.differs() {
                out.tables.push(table);
            } else {
                out.identical_tables += 1;
            }
            continue;
        } else {
            out.tables.push(TableDiff {
                table: name.clone(),
                key: String::new(),
                added: count("b", to)?,
                removed: count("a", from)?,
                changed: 0,
                note: Some(TableNote::KeysDiffer),
            });
            continue;
        };
        let compared: Vec<&String> = a
            .columns
            .iter()
            .filter(|c| b.columns.contains(c) && !key.contains(c))
            .collect();
        let join = key
            .iter()
            .map(|k| format!("o.{k} IS n.{k}", k = quote(k)))
            .collect::<Vec<_>>()
            .join(" AND ");
        let differs = if compared.is_empty() {
            "0".to_string()
        } else {
            compared
                .iter()
                .map(|c| format!("o.{c} IS NOT n.{c}", c = quote(c)))
                .collect::<Vec<_>>()
                .join(" OR ")
        };
        // A column that is never NULL in a matched TO row tells a match from no match: the
        // rowid (under a name no column hides), or the first key column of a WITHOUT ROWID
        // table (NOT NULL there). Without one, the removed and changed rows take a pass each.
        let probe = if b.without_rowid {
            Some(format!("n.{}", quote(&key[0])))
        } else {
            alias.map(|alias| format!("n.{alias}"))
        };
        let (removed, changed): (i64, i64) = match probe {
            // One pass over FROM finds the removed and the changed rows; one over TO the added.
            Some(probe) => conn.query_row(
                &format!(
                    "SELECT coalesce(sum({probe} IS NULL), 0), \
                            coalesce(sum({probe} IS NOT NULL AND ({differs})), 0) \
                     FROM a.{q} AS o LEFT JOIN b.{q} AS n ON {join}"
                ),
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            ),
            None => conn
                .query_row(
                    &format!(
                        "SELECT count(*) FROM a.{q} AS o WHERE NOT EXISTS \
                         (SELECT 1 FROM b.{q} AS n WHERE {join})"
                    ),
                    [],
                    |r| r.get(0),
                )
                .and_then(|removed| {
                    conn.query_row(
                        &format!(
                            "SELECT count(*) FROM a.{q} AS o JOIN b.{q} AS n ON {join} \
                             WHERE {differs}"
                        ),
                        [],
                        |r| Ok((removed, r.get(0)?)),
                    )
                }),
        }
        .map_err(|e| sqlite_error(from, e))?;
        let added: i64 = conn
            .query_row(
                &format!(
                    "SELECT count(*) FROM b.{q} AS n WHERE NOT EXISTS (SELECT 1 FROM a.{q} AS o WHERE {join})"
                ),
                [],
                |r| r.get(0),
            )
            .map_err(|e| sqlite_error(to, e))?;
        let table = TableDiff {
            table: name.clone(),
            key: key.join(", "),
            added: added as u64,
            removed: removed as u64,
            changed: changed as u64,
            note,
        };
        if name == "analysis_jobs" && table.differs() {
            out.jobs = job_rows(conn, &key, &compared, &join, &differs)
                .map_err(|e| sqlite_error(from, e))?;
        }
        if table.differs() {
            out.tables.push(table);
        } else {
            out.identical_tables += 1;
        }
    }
    Ok(out)
}

/// A name that reaches the rowid of a table with these columns (on both sides): `rowid`,
/// `_rowid_` or `oid`, the first that no column uses (SQLite names are case-insensitive).
fn rowid_alias(a: &[String], b: &[String]) -> Option<&'static str> {
    ["rowid", "_rowid_", "oid"]
        .into_iter()
        .find(|alias| !a.iter().chain(b).any(|c| c.eq_ignore_ascii_case(alias)))
}

/// A rowid table whose columns hide every rowid name and that has no common declared key: rows
/// are matched as a whole (the columns both sides have), with `EXCEPT`. A changed row counts as
/// one removed and one added; identical duplicate rows count once.
fn whole_rows(
    conn: &Connection,
    name: &str,
    a: &Shape,
    b: &Shape,
    note: Option<TableNote>,
    from: &Path,
    to: &Path,
) -> Result<TableDiff> {
    let q = quote(name);
    let columns = a
        .columns
        .iter()
        .filter(|c| b.columns.contains(c))
        .map(|c| quote(c))
        .collect::<Vec<_>>()
        .join(", ");
    let columns = if columns.is_empty() {
        "1".to_string()
    } else {
        columns
    };
    let only = |this: &str, other: &str, path: &Path| -> Result<u64> {
        conn.query_row(
            &format!(
                "SELECT count(*) FROM (SELECT {columns} FROM {this}.{q} \
                 EXCEPT SELECT {columns} FROM {other}.{q})"
            ),
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n as u64)
        .map_err(|e| sqlite_error(path, e))
    };
    Ok(TableDiff {
        table: name.to_string(),
        key: "*".to_string(),
        added: only("b", "a", to)?,
        removed: only("a", "b", from)?,
        changed: 0,
        note,
    })
}

pub fn json_value(value: ValueRef<'_>) -> serde_json::Value {
    match value {
        ValueRef::Null => serde_json::Value::Null,
        ValueRef::Integer(i) => i.into(),
        ValueRef::Real(r) => r.into(),
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned().into(),
        ValueRef::Blob(b) => format!("<blob {} bytes>", b.len()).into(),
    }
}

/// The differing `analysis_jobs` rows, one by one. Only these rows are read into memory.
fn job_rows(
    conn: &Connection,
    key: &[String],
    compared: &[&String],
    join: &str,
    differs: &str,
) -> rusqlite::Result<Vec<JobRowDiff>> {
    let key_expr = |side: &str| {
        if key.len() == 1 {
            format!("{side}.{}", quote(&key[0]))
        } else {
            format!(
                "json_array({})",
                key.iter()
                    .map(|k| format!("{side}.{}", quote(k)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    };
    let has_job_id = compared.iter().any(|c| *c == "job_id") || key.iter().any(|k| k == "job_id");
    let job_id = |side: &str| {
        if has_job_id {
            format!("{side}.job_id")
        } else {
            "NULL".to_string()
        }
    };
    let mut out = Vec::new();
    for (kind, from_side, to_side) in [("removed", "a", "b"), ("added", "b", "a")] {
        let sql = format!(
            "SELECT {k}, {j} FROM {from_side}.analysis_jobs AS o WHERE NOT EXISTS \
             (SELECT 1 FROM {to_side}.analysis_jobs AS n WHERE {join}) ORDER BY 1",
            k = key_expr("o"),
            j = job_id("o"),
        );
        let mut stmt = conn.prepare(&sql)?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            out.push(JobRowDiff {
                kind,
                id: json_value(row.get_ref(0)?),
                job_id: row.get::<_, Option<String>>(1).ok().flatten(),
                columns: Vec::new(),
            });
        }
    }
    if compared.is_empty() {
        return Ok(out);
    }
    let pairs = compared
        .iter()
        .map(|c| format!("o.{c}, n.{c}", c = quote(c)))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {k}, {j}, {pairs} FROM a.analysis_jobs AS o JOIN b.analysis_jobs AS n ON {join} \
         WHERE {differs} ORDER BY 1",
        k = key_expr("o"),
        j = job_id("n"),
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let mut columns = Vec::new();
        for (i, column) in compared.iter().enumerate() {
            let before = json_value(row.get_ref(2 + 2 * i)?);
            let after = json_value(row.get_ref(3 + 2 * i)?);
            if before != after {
                columns.push(ColumnChange {
                    column: column.to_string(),
                    before,
                    after,
                });
            }
        }
        out.push(JobRowDiff {
            kind: "changed",
            id: json_value(row.get_ref(0)?),
            job_id: row.get::<_, Option<String>>(1).ok().flatten(),
            columns,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make(path: &Path, sql: &str) {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch(sql).unwrap();
    }

    const SCHEMA: &str = "
        CREATE TABLE analysis_jobs (id INTEGER PRIMARY KEY, job_id TEXT UNIQUE, status TEXT, note TEXT);
        CREATE TABLE tags (name TEXT PRIMARY KEY, n INT) WITHOUT ROWID;
        CREATE TABLE plain (x, y);
        INSERT INTO analysis_jobs VALUES (1, 'j1', 'pending', 'a'), (2, 'j2', 'processing', NULL), (3, 'j3', 'completed', 'c');
        INSERT INTO tags VALUES ('a', 1), ('b', 2);
        INSERT INTO plain VALUES (1, 2), (3, 4);";

    #[test]
    fn counts_rows_by_key_in_every_kind_of_table() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.db"), dir.path().join("b ?#%.db"));
        make(&a, SCHEMA);
        make(&b, SCHEMA);
        make(
            &b,
            "UPDATE analysis_jobs SET status = 'failed' WHERE id = 2;
             UPDATE analysis_jobs SET note = 'changed', status = 'done' WHERE id = 1;
             DELETE FROM analysis_jobs WHERE id = 3;
             INSERT INTO analysis_jobs VALUES (4, 'j4', 'pending', NULL);
             UPDATE tags SET n = 5 WHERE name = 'b'; INSERT INTO tags VALUES ('c', 3);
             DELETE FROM plain WHERE x = 1;",
        );
        let d = diff_files(&a, &b).unwrap();
        let t = |n: &str| d.tables.iter().find(|t| t.table == n).unwrap().clone();
        let jobs = t("analysis_jobs");
        assert_eq!((jobs.added, jobs.removed, jobs.changed), (1, 1, 2));
        let tags = t("tags");
        assert_eq!((tags.added, tags.removed, tags.changed), (1, 0, 1));
        assert_eq!(tags.key, "name");
        let plain = t("plain");
        assert_eq!((plain.added, plain.removed, plain.changed), (0, 1, 0));
        assert_eq!(plain.key, "rowid");
        let j1 = d
            .jobs
            .iter()
            .find(|j| j.job_id.as_deref() == Some("j1"))
            .unwrap();
        assert_eq!(j1.kind, "changed");
        let cols: Vec<&str> = j1.columns.iter().map(|c| c.column.as_str()).collect();
        assert_eq!(cols, ["status", "note"]);
        assert!(d
            .jobs
            .iter()
            .any(|j| j.kind == "added" && j.job_id.as_deref() == Some("j4")));
        assert!(d
            .jobs
            .iter()
            .any(|j| j.kind == "removed" && j.job_id.as_deref() == Some("j3")));
    }

    #[test]
    fn identical_files_do_not_differ() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.db"), dir.path().join("b.db"));
        make(&a, SCHEMA);
        make(&b, SCHEMA);
        let d = diff_files(&a, &b).unwrap();
        assert!(!d.differs());
        assert_eq!(d.identical_tables, 3);
    }
}
