//! The logical snapshot of the app's schema on PostgreSQL (design.md §8.4): every base table
//! read in one `REPEATABLE READ READ ONLY` transaction (one MVCC snapshot: the app keeps
//! writing and is never blocked) and streamed with `COPY ... TO STDOUT`.
//!
//! The image (what the store compresses and checksums) is one file:
//!
//! ```text
//! JOBSWEEP-PG-IMAGE/1\n
//! <one line of JSON: the Layout — tables, columns, keys, indexes, constraints, sequences>\n
//! TABLE <n>\n            per table, in the layout's order (parents before children)
//! <COPY text rows, one line each>
//! \.\n
//! ```
//!
//! COPY's text format escapes newlines inside values, so a row is one line and the image can be
//! checked (rows decoded and counted per table) without a server. The layout is what rebuilds
//! the tables on an empty database (`restore --to`); it is read from the catalog in the same
//! transaction as the rows.

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use indicatif::ProgressBar;

use super::{query_error, quote_ident, PgDatabase};
use crate::engine::{ImageFacts, Progress, ServerError};

pub const MAGIC: &str = "JOBSWEEP-PG-IMAGE/1";

/// What the image holds besides rows: enough to create the tables again.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Layout {
    /// The schema the tables were read from.
    pub schema: String,
    pub server_version: String,
    /// In dependency order: a table comes after the tables its foreign keys point to.
    pub tables: Vec<Table>,
    pub sequences: Vec<Sequence>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    /// Primary key, unique and check constraints: `(name, definition)`, added after the rows.
    pub constraints: Vec<(String, String)>,
    /// Foreign keys, added last (all tables filled).
    pub foreign_keys: Vec<(String, String)>,
    /// `CREATE INDEX` statements of the indexes that no constraint owns.
    pub indexes: Vec<String>,
    /// The primary key's columns (for the diff by primary key); empty when there is none.
    pub primary_key: Vec<String>,
    /// Rows in the image.
    pub rows: u64,
    /// The rows are written in key order ([`Table::order_by`]), so `diff` merges two images
    /// without holding a table and `verify` checks the order (design.md §8.4). False in images
    /// written before (their diff holds the table in memory).
    #[serde(default)]
    pub sorted: bool,
}

impl Table {
    /// The positions of the columns rows are matched by: the primary key, else every column.
    fn key_columns(&self) -> Vec<usize> {
        let key: Vec<usize> = self
            .primary_key
            .iter()
            .filter_map(|k| self.columns.iter().position(|c| &c.name == k))
            .collect();
        if key.is_empty() {
            (0..self.columns.len()).collect()
        } else {
            key
        }
    }

    /// Per key column, whether it is ordered as an integer (else as text, byte order).
    fn numeric_keys(&self) -> Vec<bool> {
        self.key_columns()
            .iter()
            .map(|&i| {
                matches!(
                    self.columns[i].data_type.as_str(),
                    "smallint" | "integer" | "bigint"
                )
            })
            .collect()
    }

    /// The `ORDER BY` that writes rows in the order [`compare_keys`] expects: integers as
    /// numbers, everything else as its text in byte order (`COLLATE "C"`, the order of Rust's
    /// strings), NULL first. `NULLS FIRST` only where a NULL can be: on a `NOT NULL` integer
    /// key (every serial primary key) the plain `ORDER BY` is the primary key index's order,
    /// so the server walks the index instead of sorting the table (design.md §8.4).
    fn order_by(&self) -> String {
        self.key_columns()
            .iter()
            .zip(self.numeric_keys())
            .map(|(&i, numeric)| {
                let column = &self.columns[i];
                let name = quote_ident(&column.name);
                let nulls = if column.not_null { "" } else { " NULLS FIRST" };
                if numeric {
                    format!("{name}{nulls}")
                } else {
                    format!("{name}::text COLLATE \"C\"{nulls}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Compares two keys in the order [`Table::order_by`] writes them.
fn compare_keys(
    numeric: &[bool],
    a: &[Option<String>],
    b: &[Option<String>],
) -> std::cmp::Ordering {
    for ((x, y), &numeric) in a
        .iter()
        .zip(b)
        .zip(numeric.iter().chain(std::iter::repeat(&false)))
    {
        let order = match (x, y) {
            (None, None) => std::cmp::Ordering::Equal,
            (None, Some(_)) => std::cmp::Ordering::Less,
            (Some(_), None) => std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => match (numeric, x.parse::<i64>(), y.parse::<i64>()) {
                (true, Ok(x), Ok(y)) => x.cmp(&y),
                _ => x.as_bytes().cmp(y.as_bytes()),
            },
        };
        if order.is_ne() {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    /// `format_type`: `character varying(50)`, `timestamp without time zone`, ...
    pub data_type: String,
    pub not_null: bool,
    pub default: Option<String>,
    /// `a` (always) or `d` (by default) for identity columns.
    pub identity: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sequence {
    pub name: String,
    pub data_type: String,
    pub increment: i64,
    pub min: i64,
    pub max: i64,
    pub start: i64,
    pub cycle: bool,
    /// `(table, column)` that owns it (serial and identity columns).
    pub owned_by: Option<(String, String)>,
    /// Identity sequences are created by their column, not by `CREATE SEQUENCE`.
    pub identity: bool,
    /// `last_value` and `is_called`: where `nextval` continues.
    pub last_value: i64,
    pub is_called: bool,
}

/// Reads the layout of every base table of the schema from the catalog, inside `tx`.
fn read_layout(
    tx: &mut postgres::Transaction<'_>,
    schema: &str,
) -> Result<Layout, postgres::Error> {
    let server_version: String = tx.query_one("SHOW server_version", &[])?.get(0);
    let table_rows = tx.query(
        "SELECT c.oid, c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY c.relname",
        &[&schema],
    )?;
    let mut tables = Vec::new();
    let mut depends: Vec<Vec<String>> = Vec::new();
    for row in &table_rows {
        let oid: postgres::types::Oid = row.get(0);
        let name: String = row.get(1);
        let columns = tx
            .query(
                "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull, \
                 pg_get_expr(d.adbin, d.adrelid), nullif(a.attidentity::text, '') \
                 FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
                 WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                &[&oid],
            )?
            .iter()
            .map(|c| Column {
                name: c.get(0),
                data_type: c.get(1),
                not_null: c.get(2),
                default: c.get(3),
                identity: c.get(4),
            })
            .collect();
        let mut constraints = Vec::new();
        let mut foreign_keys = Vec::new();
        let mut parents = Vec::new();
        for c in tx.query(
            "SELECT conname::text, contype::text, pg_get_constraintdef(oid), \
             (SELECT relname::text FROM pg_class WHERE oid = confrelid) \
             FROM pg_constraint WHERE conrelid = $1 AND contype IN ('p', 'u', 'c', 'f', 'x') ORDER BY conname",
            &[&oid],
        )? {
            let pair = (c.get::<_, String>(0), c.get::<_, String>(2));
            if c.get::<_, String>(1) == "f" {
                if let Some(parent) = c.get::<_, Option<String>>(3) {
                    parents.push(parent);
                }
                foreign_keys.push(pair);
            } else {
                constraints.push(pair);
            }
        }
        let indexes = tx
            .query(
                "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i \
                 WHERE i.indrelid = $1 AND NOT EXISTS \
                 (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid) \
                 ORDER BY i.indexrelid::regclass::text",
                &[&oid],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let primary_key = tx
            .query(
                "SELECT a.attname::text FROM pg_index i \
                 JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, n) ON true \
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
                 WHERE i.indrelid = $1 AND i.indisprimary ORDER BY k.n",
                &[&oid],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        depends.push(parents);
        tables.push(Table {
            name,
            columns,
            constraints,
            foreign_keys,
            indexes,
            primary_key,
            rows: 0,
            sorted: true,
        });
    }
    let tables = parents_first(tables, depends);
    let mut sequences = Vec::new();
    for s in tx.query(
        "SELECT c.relname::text, format_type(s.seqtypid, NULL), s.seqincrement, s.seqmin, s.seqmax, \
         s.seqstart, s.seqcycle, t.relname::text, a.attname::text, coalesce(d.deptype = 'i', false) \
         FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid \
              AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') \
         LEFT JOIN pg_class t ON t.oid = d.refobjid \
         LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
         WHERE n.nspname = $1 ORDER BY c.relname",
        &[&schema],
    )? {
        let name: String = s.get(0);
        // `pg_sequence_last_value` is NULL before the first nextval.
        let last = tx.query_one(
            &format!(
                "SELECT last_value, is_called FROM {}.{}",
                quote_ident(schema),
                quote_ident(&name)
            ),
            &[],
        )?;
        let owner: Option<String> = s.get(7);
        let column: Option<String> = s.get(8);
        sequences.push(Sequence {
            name,
            data_type: s.get(1),
            increment: s.get(2),
            min: s.get(3),
            max: s.get(4),
            start: s.get(5),
            cycle: s.get(6),
            owned_by: owner.zip(column),
            identity: s.get(9),
            last_value: last.get(0),
            is_called: last.get(1),
        });
    }
    Ok(Layout {
        schema: schema.to_string(),
        server_version,
        tables,
        sequences,
    })
}

/// Orders tables so that each comes after the tables its foreign keys reference (a cycle or a
/// reference outside the schema keeps name order for what is left).
fn parents_first(tables: Vec<Table>, depends: Vec<Vec<String>>) -> Vec<Table> {
    let mut pending: Vec<(Table, Vec<String>)> = tables.into_iter().zip(depends).collect();
    let names: Vec<String> = pending.iter().map(|(t, _)| t.name.clone()).collect();
    let mut placed: Vec<Table> = Vec::new();
    while !pending.is_empty() {
        let ready = pending.iter().position(|(t, parents)| {
            parents.iter().all(|p| {
                p == &t.name || !names.contains(p) || placed.iter().any(|done| &done.name == p)
            })
        });
        let (table, _) = pending.remove(ready.unwrap_or(0));
        placed.push(table);
    }
    placed
}

/// Writes the image of the schema's tables to `out`: the layout line, then each table's rows.
/// Returns the layout with each table's row count.
pub fn export(db: &mut PgDatabase, out: &mut dyn Write, progress: &Progress) -> Result<Layout> {
    let target = db.target.clone();
    let schema = db.schema.clone();
    let qerr = |e: postgres::Error| query_error(&target, &e);
    let mut tx = db.read_transaction()?;
    let mut layout = read_layout(&mut tx, &schema).map_err(qerr)?;
    // The bar's total is the planner's estimate (`reltuples`; -1 for a table never analyzed).
    let estimate: i64 = tx
        .query_one(
            "SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition",
            &[&schema],
        )
        .map_err(qerr)?
        .get(0);
    let bar = crate::progress::rows_if(progress.bars, estimate.max(0) as u64, &progress.label);
    let mut out = BufWriter::with_capacity(1 << 20, out);
    // The layout's row counts are only known at the end; the header line carries the layout
    // without them, and the manifest (ImageFacts) records the counts.
    // The caller names the file it writes into (`out` is its compressor).
    let io = anyhow::Error::from;
    writeln!(out, "{MAGIC}").map_err(io)?;
    serde_json::to_writer(&mut out, &layout)?;
    out.write_all(b"\n").map_err(io)?;
    for (n, table) in layout.tables.iter_mut().enumerate() {
        writeln!(out, "TABLE {n}").map_err(io)?;
        let columns = column_list(table);
        // In key order, sorted by the server: `diff` then merges two images row by row.
        let mut reader = tx
            .copy_out(
                format!(
                    "COPY (SELECT {columns} FROM {}.{} ORDER BY {}) TO STDOUT",
                    quote_ident(&schema),
                    quote_ident(&table.name),
                    table.order_by()
                )
                .as_str(),
            )
            .map_err(qerr)?;
        table.rows =
            copy_counting_lines(&mut reader, &mut out, &bar).map_err(|e| ServerError::Query {
                db: target.display.clone(),
                reason: format!("COPY {}: {e}", table.name),
            })?;
        out.write_all(b"\\.\n").map_err(io)?;
    }
    out.flush().map_err(io)?;
    drop(out);
    tx.commit().map_err(qerr)?;
    bar.finish_and_clear();
    Ok(layout)
}

fn column_list(table: &Table) -> String {
    table
        .columns
        .iter()
        .map(|c| quote_ident(&c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Copies `reader` to `out`, counting newlines (one per row in COPY's text format). The server
/// sends a message per row: each is written from the client's own buffer, and the bar moves
/// every few thousand rows, not per row (both showed in the profile of a large snapshot).
fn copy_counting_lines(
    reader: &mut dyn BufRead,
    out: &mut dyn Write,
    bar: &ProgressBar,
) -> std::io::Result<u64> {
    let (mut lines, mut unshown) = (0u64, 0u64);
    loop {
        let chunk = match reader.fill_buf() {
            Ok([]) => break,
            Ok(chunk) => chunk,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let rows = memchr::memchr_iter(b'\n', chunk).count() as u64;
        out.write_all(chunk)?;
        let n = chunk.len();
        reader.consume(n);
        lines += rows;
        unshown += rows;
        if unshown >= 4096 {
            bar.inc(std::mem::take(&mut unshown));
        }
    }
    bar.inc(unshown);
    Ok(lines)
}

/// An image opened for reading: its layout, then its tables in order.
pub struct Image<R = std::fs::File> {
    pub layout: Layout,
    reader: BufReader<R>,
    next_table: usize,
}

fn corrupt(path: &Path, what: String) -> anyhow::Error {
    ServerError::ImageDamaged {
        path: path.to_path_buf(),
        what,
    }
    .into()
}

impl Image {
    pub fn open(path: &Path) -> Result<Image> {
        let file = std::fs::File::open(path).map_err(|e| ServerError::ImageDamaged {
            path: path.to_path_buf(),
            what: e.to_string(),
        })?;
        Image::from_reader(file, path)
    }
}

impl<R: Read> Image<R> {
    /// The image `reader` streams (`path` names it in errors).
    pub fn from_reader(reader: R, path: &Path) -> Result<Image<R>> {
        let mut reader = BufReader::with_capacity(1 << 20, reader);
        let mut line = String::new();
        reader
            .read_line(&mut line)
            .map_err(|e| corrupt(path, e.to_string()))?;
        if line.trim_end() != MAGIC {
            return Err(corrupt(path, format!("no {MAGIC} header")));
        }
        line.clear();
        reader
            .read_line(&mut line)
            .map_err(|e| corrupt(path, e.to_string()))?;
        let layout: Layout =
            serde_json::from_str(&line).map_err(|e| corrupt(path, format!("layout: {e}")))?;
        Ok(Image {
            layout,
            reader,
            next_table: 0,
        })
    }

    /// Calls `row` with each row line (without its newline) of the next table; returns the
    /// table's index and row count, or `None` after the last table.
    pub fn next_table(
        &mut self,
        path: &Path,
        row: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<Option<(usize, u64)>> {
        let Some(n) = self.start_table(path)? else {
            return Ok(None);
        };
        let mut rows = 0u64;
        let mut line = Vec::new();
        while self.next_row(path, &mut line)? {
            rows += 1;
            row(&line)?;
        }
        Ok(Some((n, rows)))
    }

    /// Reads the `TABLE n` line of the next table; its index, or `None` after the last.
    fn start_table(&mut self, path: &Path) -> Result<Option<usize>> {
        if self.next_table >= self.layout.tables.len() {
            return Ok(None);
        }
        let n = self.next_table;
        let mut line = Vec::new();
        self.reader
            .read_until(b'\n', &mut line)
            .map_err(|e| corrupt(path, e.to_string()))?;
        if line != format!("TABLE {n}\n").as_bytes() {
            return Err(corrupt(
                path,
                format!(
                    "table {} does not start where expected",
                    self.layout.tables[n].name
                ),
            ));
        }
        Ok(Some(n))
    }

    /// The next row of the table [`Image::start_table`] began, without its newline, in `line`;
    /// false at the table's end (then the next table may start).
    fn next_row(&mut self, path: &Path, line: &mut Vec<u8>) -> Result<bool> {
        line.clear();
        let read = self
            .reader
            .read_until(b'\n', line)
            .map_err(|e| corrupt(path, e.to_string()))?;
        if read == 0 || line.last() != Some(&b'\n') {
            return Err(corrupt(
                path,
                format!(
                    "table {} ends early",
                    self.layout.tables[self.next_table].name
                ),
            ));
        }
        if line == b"\\.\n" {
            self.next_table += 1;
            return Ok(false);
        }
        line.pop();
        Ok(true)
    }

    /// Nothing may follow the last table.
    pub fn finish(mut self, path: &Path) -> Result<()> {
        let mut rest = [0u8; 1];
        match self.reader.read(&mut rest) {
            Ok(0) => Ok(()),
            Ok(_) => Err(corrupt(path, "data after the last table".into())),
            Err(e) => Err(corrupt(path, e.to_string())),
        }
    }
}

/// `snapshot verify` without a server: the image decodes and every table holds `expected` rows
/// (from the manifest). `None` when sound, else what is wrong.
pub fn check(path: &Path, expected: &[(String, u64)]) -> Result<Option<String>> {
    match std::fs::File::open(path) {
        Ok(mut file) => check_reader(&mut file, path, expected),
        Err(e) => Ok(Some(format!("{}: {e}", path.display()))),
    }
}

/// [`check`] of an image read from `reader` (a new snapshot's decompressed stream, design.md
/// §8.4); `path` names it in what is reported.
pub fn check_reader(
    reader: &mut dyn Read,
    path: &Path,
    expected: &[(String, u64)],
) -> Result<Option<String>> {
    let mut image = match Image::from_reader(reader, path) {
        Ok(image) => image,
        Err(e) => return Ok(Some(format!("{e:#}"))),
    };
    let mut counted = Vec::new();
    loop {
        let table = image.layout.tables.get(image.next_table).cloned();
        let columns = table.as_ref().map(|t| t.columns.len());
        let mut order = table.as_ref().filter(|t| t.sorted).map(KeyOrder::new);
        let mut bad_row = None;
        let mut out_of_order = None;
        let step = image.next_table(path, &mut |line| {
            // Each row has one field per column, tab-separated (tabs inside values are escaped).
            let fields = memchr::memchr_iter(b'\t', line).count() + 1;
            let shown = || {
                String::from_utf8_lossy(line)
                    .chars()
                    .take(60)
                    .collect::<String>()
            };
            if Some(fields) != columns && bad_row.is_none() {
                bad_row = Some(shown());
            }
            if let Some(order) = &mut order {
                if !order.line_follows(line) && out_of_order.is_none() {
                    out_of_order = Some(shown());
                }
            }
            Ok(())
        });
        match step {
            Ok(Some((n, rows))) => {
                let name = image.layout.tables[n].name.clone();
                if let Some(row) = bad_row {
                    return Ok(Some(format!(
                        "table {name}: a row has the wrong number of fields: {row}"
                    )));
                }
                if let Some(row) = out_of_order {
                    return Ok(Some(format!(
                        "table {name}: a row is out of key order: {row}"
                    )));
                }
                counted.push((name, rows));
            }
            Ok(None) => break,
            Err(e) => return Ok(Some(format!("{e:#}"))),
        }
    }
    if let Err(e) = image.finish(path) {
        return Ok(Some(format!("{e:#}")));
    }
    if counted != expected {
        return Ok(Some(format!(
            "row counts {} do not match the manifest's {}",
            counts_text(&counted),
            counts_text(expected)
        )));
    }
    Ok(None)
}

fn counts_text(counts: &[(String, u64)]) -> String {
    counts
        .iter()
        .map(|(t, n)| format!("{t}={n}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Statements that create the image's sequences and tables (before the rows are loaded).
fn create_statements(layout: &Layout) -> Vec<String> {
    let mut out = Vec::new();
    for s in layout.sequences.iter().filter(|s| !s.identity) {
        out.push(format!(
            "CREATE SEQUENCE {} AS {} INCREMENT BY {} MINVALUE {} MAXVALUE {} START WITH {} {}",
            quote_ident(&s.name),
            s.data_type,
            s.increment,
            s.min,
            s.max,
            s.start,
            if s.cycle { "CYCLE" } else { "NO CYCLE" }
        ));
    }
    for t in &layout.tables {
        let columns: Vec<String> = t
            .columns
            .iter()
            .map(|c| {
                let mut def = format!("{} {}", quote_ident(&c.name), c.data_type);
                match (c.identity.as_deref(), &c.default) {
                    (Some("a"), _) => def.push_str(" GENERATED ALWAYS AS IDENTITY"),
                    (Some("d"), _) => def.push_str(" GENERATED BY DEFAULT AS IDENTITY"),
                    (_, Some(default)) => def.push_str(&format!(" DEFAULT {default}")),
                    _ => {}
                }
                if c.not_null {
                    def.push_str(" NOT NULL");
                }
                def
            })
            .collect();
        out.push(format!(
            "CREATE TABLE {} ({})",
            quote_ident(&t.name),
            columns.join(", ")
        ));
    }
    for s in layout.sequences.iter().filter(|s| !s.identity) {
        if let Some((table, column)) = &s.owned_by {
            out.push(format!(
                "ALTER SEQUENCE {} OWNED BY {}.{}",
                quote_ident(&s.name),
                quote_ident(table),
                quote_ident(column)
            ));
        }
    }
    out
}

/// Statements run after the rows: keys, constraints, indexes, then foreign keys.
fn finish_statements(layout: &Layout) -> Vec<String> {
    let mut out = Vec::new();
    for t in &layout.tables {
        for (name, def) in &t.constraints {
            out.push(format!(
                "ALTER TABLE {} ADD CONSTRAINT {} {def}",
                quote_ident(&t.name),
                quote_ident(name)
            ));
        }
        out.extend(t.indexes.iter().cloned());
    }
    for t in &layout.tables {
        for (name, def) in &t.foreign_keys {
            out.push(format!(
                "ALTER TABLE {} ADD CONSTRAINT {} {def}",
                quote_ident(&t.name),
                quote_ident(name)
            ));
        }
    }
    out
}

/// `setval` for every sequence, so the app's next insert continues after the restored ids.
fn sequence_statements(layout: &Layout) -> Vec<String> {
    layout
        .sequences
        .iter()
        .map(|s| {
            format!(
                "SELECT setval('{}', {}, {})",
                quote_ident(&s.name).replace('\'', "''"),
                s.last_value,
                s.is_called
            )
        })
        .collect()
}

/// Loads every table's rows from `image` into the tables of `tx` (search path = the schema).
fn load_rows(
    tx: &mut postgres::Transaction<'_>,
    image_path: &Path,
    db: &super::Target,
    progress: &Progress,
    facts: &ImageFacts,
) -> Result<Layout> {
    let mut image = Image::open(image_path)?;
    let layout = image.layout.clone();
    let total = facts.tables.iter().map(|t| t.rows).sum();
    let bar = crate::progress::rows_if(progress.bars, total, &progress.label);
    while let Some(table) = layout.tables.get(image.next_table) {
        let mut writer = tx
            .copy_in(
                format!(
                    "COPY {} ({}) FROM STDIN",
                    quote_ident(&table.name),
                    column_list(table)
                )
                .as_str(),
            )
            .map_err(|e| query_error(db, &e))?;
        let mut failed = None;
        image.next_table(image_path, &mut |line| {
            if failed.is_none() {
                if let Err(e) = writer
                    .write_all(line)
                    .and_then(|()| writer.write_all(b"\n"))
                {
                    failed = Some(e);
                }
                bar.inc(1);
            }
            Ok(())
        })?;
        if let Some(e) = failed {
            return Err(ServerError::Query {
                db: db.display.clone(),
                reason: format!("COPY {}: {e}", table.name),
            }
            .into());
        }
        writer.finish().map_err(|e| query_error(db, &e))?;
    }
    image.finish(image_path)?;
    bar.finish_and_clear();
    Ok(layout)
}

/// Replaces the rows of the live schema's tables with the image's, in one transaction: the
/// tables are locked (waiting at most `lock_timeout`), emptied children first, filled parents
/// first, and the sequences set. Readers see the old state or the new one, never a mix.
pub fn import_live(
    db: &mut PgDatabase,
    image_path: &Path,
    facts: &ImageFacts,
    progress: &Progress,
) -> Result<()> {
    let target = db.target.clone();
    let qerr = |e: postgres::Error| query_error(&target, &e);
    let layout = Image::open(image_path)?.layout;
    let mut tx = db.client.transaction().map_err(qerr)?;
    let names: Vec<String> = layout.tables.iter().map(|t| quote_ident(&t.name)).collect();
    if !names.is_empty() {
        tx.batch_execute(&format!(
            "LOCK TABLE {} IN ACCESS EXCLUSIVE MODE",
            names.join(", ")
        ))
        .map_err(qerr)?;
        // DELETE, not TRUNCATE: TRUNCATE is not MVCC-safe for transactions that started before.
        for name in names.iter().rev() {
            tx.batch_execute(&format!("DELETE FROM {name}"))
                .map_err(qerr)?;
        }
    }
    load_rows(&mut tx, image_path, &target, progress, facts)?;
    for statement in sequence_statements(&layout) {
        tx.batch_execute(&statement).map_err(qerr)?;
    }
    tx.commit().map_err(qerr)?;
    Ok(())
}

/// Creates the image's tables in the schema of `db` and fills them, in one transaction;
/// `replace` names existing tables dropped first (`--force`); `create_schema`: the schema does
/// not exist yet and is created first, in the same transaction.
pub fn import_new(
    db: &mut PgDatabase,
    image_path: &Path,
    replace: &[String],
    create_schema: bool,
    facts: &ImageFacts,
    progress: &Progress,
) -> Result<()> {
    let target = db.target.clone();
    let schema = db.schema.clone();
    let qerr = |e: postgres::Error| query_error(&target, &e);
    let layout = Image::open(image_path)?.layout;
    let mut tx = db.client.transaction().map_err(qerr)?;
    if create_schema {
        // The search path names it already: once it exists, the tables are created in it.
        tx.batch_execute(&format!("CREATE SCHEMA {}", quote_ident(&schema)))
            .map_err(qerr)?;
    }
    for table in replace {
        tx.batch_execute(&format!(
            "DROP TABLE IF EXISTS {} CASCADE",
            quote_ident(table)
        ))
        .map_err(qerr)?;
    }
    // Sequences the dropped tables did not own would clash with `CREATE SEQUENCE`.
    for s in layout.sequences.iter().filter(|s| !s.identity) {
        if !replace.is_empty() {
            tx.batch_execute(&format!("DROP SEQUENCE IF EXISTS {}", quote_ident(&s.name)))
                .map_err(qerr)?;
        }
    }
    for statement in create_statements(&layout) {
        tx.batch_execute(&statement).map_err(qerr)?;
    }
    load_rows(&mut tx, image_path, &target, progress, facts)?;
    for statement in finish_statements(&layout)
        .into_iter()
        .chain(sequence_statements(&layout))
    {
        tx.batch_execute(&statement).map_err(qerr)?;
    }
    tx.commit().map_err(qerr)?;
    Ok(())
}

/// The base tables of `db`'s schema (to refuse a `restore --to` into a database holding them).
pub fn existing_tables(db: &mut PgDatabase) -> Result<Vec<String>> {
    let target = db.target.clone();
    let schema = db.schema.clone();
    let rows = db
        .client
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY 1",
            &[&schema],
        )
        .map_err(|e| query_error(&target, &e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// One field of a COPY text row: `None` for `\N`, else the value with its escapes undone.
fn decode_field(field: &[u8]) -> Option<String> {
    if field == b"\\N" {
        return None;
    }
    let mut out = Vec::with_capacity(field.len());
    let mut bytes = field.iter();
    while let Some(&b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'r') => out.push(b'\r'),
            Some(b'b') => out.push(8),
            Some(b'f') => out.push(12),
            Some(b'v') => out.push(11),
            Some(&other) => out.push(other),
            None => {}
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

fn fields(line: &[u8]) -> Vec<Option<String>> {
    line.split(|&b| b == b'\t').map(decode_field).collect()
}

/// The rows of table `name` of the image at `path` (written before images were sorted), keyed
/// by primary key (the whole row when the table has none); empty when the image has no such
/// table.
fn table_rows(
    path: &Path,
    name: &str,
) -> Result<std::collections::BTreeMap<Key, Vec<Option<String>>>> {
    let mut image = Image::open(path)?;
    let Some(index) = image.layout.tables.iter().position(|t| t.name == name) else {
        return Ok(Default::default());
    };
    let table = image.layout.tables[index].clone();
    let key: Vec<usize> = table
        .primary_key
        .iter()
        .filter_map(|k| table.columns.iter().position(|c| &c.name == k))
        .collect();
    let mut rows = std::collections::BTreeMap::new();
    // Tables before it are read past (the image is one stream).
    while image.next_table <= index {
        let collect = image.next_table == index;
        image.next_table(path, &mut |line| {
            if collect {
                let row = fields(line);
                let k = if key.is_empty() {
                    row.clone()
                } else {
                    key.iter().map(|&i| row.get(i).cloned().flatten()).collect()
                };
                rows.insert(k, row);
            }
            Ok(())
        })?;
    }
    Ok(rows)
}

/// Checks that a sorted table's rows come in key order: strictly increasing by primary key,
/// non-decreasing by whole row (a table without one may hold equal rows).
struct KeyOrder {
    key: Vec<usize>,
    numeric: Vec<bool>,
    unique: bool,
    last: Option<Vec<Option<String>>>,
    /// The previous row's key while every key so far was one integer (see
    /// [`KeyOrder::line_follows`]): the number and its text as written.
    last_int: Option<(i64, Vec<u8>)>,
}

impl KeyOrder {
    fn new(table: &Table) -> KeyOrder {
        KeyOrder {
            key: table.key_columns(),
            numeric: table.numeric_keys(),
            unique: !table.primary_key.is_empty(),
            last: None,
            last_int: None,
        }
    }

    /// [`KeyOrder::follows`] for a row line, as the check reads a whole image. A key of one
    /// integer column (the serial primary key of every app table) is compared as a number
    /// straight from the line, without decoding or allocating: per row, that was most of the
    /// check's time. The first key that is not an integer (NULL) hands over to the general
    /// comparison, which then goes on from the last integer key.
    fn line_follows(&mut self, line: &[u8]) -> bool {
        if let ([column], [true], true) = (&self.key[..], &self.numeric[..], self.last.is_none()) {
            let field = line.split(|&b| b == b'\t').nth(*column).unwrap_or_default();
            let number = std::str::from_utf8(field)
                .ok()
                .and_then(|f| f.parse::<i64>().ok());
            if let Some(n) = number {
                let fine = match &self.last_int {
                    None => true,
                    Some((last, _)) if self.unique => *last < n,
                    Some((last, _)) => *last <= n,
                };
                let (slot, text) = self.last_int.get_or_insert_with(|| (n, Vec::new()));
                *slot = n;
                text.clear();
                text.extend_from_slice(field);
                return fine;
            }
            self.last = self
                .last_int
                .take()
                .map(|(_, text)| vec![decode_field(&text)]);
        }
        self.follows(self.key_of_line(line))
    }

    fn key(&self, row: &[Option<String>]) -> Key {
        self.key
            .iter()
            .map(|&i| row.get(i).cloned().flatten())
            .collect()
    }

    /// The key of a row line, decoding only the key fields (not the long texts beside them).
    fn key_of_line(&self, line: &[u8]) -> Key {
        let raw: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
        self.key
            .iter()
            .map(|&i| raw.get(i).and_then(|f| decode_field(f)))
            .collect()
    }

    /// Whether a row with `key` may follow the rows seen so far; remembers the key.
    fn follows(&mut self, key: Key) -> bool {
        let fine = match &self.last {
            None => true,
            Some(last) => match compare_keys(&self.numeric, last, &key) {
                std::cmp::Ordering::Less => true,
                std::cmp::Ordering::Equal => !self.unique,
                std::cmp::Ordering::Greater => false,
            },
        };
        self.last = Some(key);
        fine
    }
}

/// The rows of one sorted table of an image, one at a time, with their keys: what the
/// streaming diff merges. Rows out of key order are a damaged image (exit 4).
struct SortedRows<'a> {
    path: &'a Path,
    image: Image,
    order: KeyOrder,
    name: String,
    line: Vec<u8>,
}

/// A row's key fields (see [`Table::key_columns`]).
type Key = Vec<Option<String>>;
type KeyedRow = (Key, Vec<Option<String>>);

impl<'a> SortedRows<'a> {
    fn open(path: &'a Path, index: usize) -> Result<SortedRows<'a>> {
        let mut image = Image::open(path)?;
        // Tables before it are read past (the image is one stream).
        while image.next_table < index {
            image.next_table(path, &mut |_| Ok(()))?;
        }
        image.start_table(path)?;
        let table = &image.layout.tables[index];
        Ok(SortedRows {
            order: KeyOrder::new(table),
            name: table.name.clone(),
            path,
            image,
            line: Vec::new(),
        })
    }

    fn next(&mut self) -> Result<Option<KeyedRow>> {
        if !self.image.next_row(self.path, &mut self.line)? {
            return Ok(None);
        }
        let row = fields(&self.line);
        let key = self.order.key(&row);
        if !self.order.follows(key.clone()) {
            return Err(corrupt(
                self.path,
                format!("table {}: a row is out of key order", self.name),
            ));
        }
        Ok(Some((key, row)))
    }
}

/// The per-table counts and `analysis_jobs` row changes of one table's diff.
struct TableDiffer<'a> {
    d: crate::core::diff::TableDiff,
    /// Where changed job rows go (`analysis_jobs` only).
    jobs: Option<&'a mut Vec<crate::core::diff::JobRowDiff>>,
    columns: Vec<String>,
    job_id_at: Option<usize>,
}

fn json_text(v: &Option<String>) -> serde_json::Value {
    match v {
        Some(s) => serde_json::Value::String(s.clone()),
        None => serde_json::Value::Null,
    }
}

fn key_json(k: &[Option<String>]) -> serde_json::Value {
    match k {
        [Some(one)] => one
            .parse::<i64>()
            .map(serde_json::Value::from)
            .unwrap_or_else(|_| serde_json::Value::String(one.clone())),
        other => serde_json::Value::Array(other.iter().map(json_text).collect()),
    }
}

impl TableDiffer<'_> {
    fn job(&mut self, kind: &'static str, k: &[Option<String>], row: &[Option<String>]) {
        let job_id = self.job_id_at.and_then(|i| row.get(i).cloned().flatten());
        if let Some(jobs) = &mut self.jobs {
            jobs.push(crate::core::diff::JobRowDiff {
                kind,
                id: key_json(k),
                job_id,
                columns: Vec::new(),
            });
        }
    }

    fn removed(&mut self, k: &[Option<String>], row: &[Option<String>]) {
        self.d.removed += 1;
        self.job("removed", k, row);
    }

    fn added(&mut self, k: &[Option<String>], row: &[Option<String>]) {
        self.d.added += 1;
        self.job("added", k, row);
    }

    /// The same key on both sides: changed when the rows differ.
    fn matched(&mut self, k: &[Option<String>], old: &[Option<String>], new: &[Option<String>]) {
        if old == new {
            return;
        }
        self.d.changed += 1;
        let job_id = self.job_id_at.and_then(|i| new.get(i).cloned().flatten());
        if let Some(jobs) = &mut self.jobs {
            let columns = self
                .columns
                .iter()
                .enumerate()
                .filter(|(i, _)| old.get(*i) != new.get(*i))
                .map(|(i, c)| crate::core::diff::ColumnChange {
                    column: c.clone(),
                    before: old.get(i).map(json_text).unwrap_or_default(),
                    after: new.get(i).map(json_text).unwrap_or_default(),
                })
                .collect();
            jobs.push(crate::core::diff::JobRowDiff {
                kind: "changed",
                id: key_json(k),
                job_id,
                columns,
            });
        }
    }
}

/// Row diff by primary key of two PostgreSQL images (design.md §8.4), as the SQLite diff
/// reports it: per table counts, and each changed `analysis_jobs` row with its columns.
/// jobsweep's own outcome table is left out. Tables written in key order (every image since
/// the order was introduced) are merged row by row, so memory does not grow with the tables;
/// older images hold one table of each side in memory.
pub fn diff(from: &Path, to: &Path) -> Result<crate::core::diff::DbDiff> {
    use crate::core::diff::{DbDiff, TableDiff, TableNote};
    let from_tables = Image::open(from)?.layout.tables;
    let to_tables = Image::open(to)?.layout.tables;
    let mut names: Vec<String> = from_tables
        .iter()
        .chain(&to_tables)
        .map(|t| t.name.clone())
        .filter(|n| n != super::write::OUTCOMES_TABLE)
        .collect();
    names.sort();
    names.dedup();
    let mut out = DbDiff {
        tables: Vec::new(),
        identical_tables: 0,
        jobs: Vec::new(),
    };
    let find = |tables: &[Table], name: &str| {
        tables
            .iter()
            .position(|t| t.name == name)
            .map(|i| (i, tables[i].clone()))
    };
    for name in names {
        let a = find(&from_tables, &name);
        let b = find(&to_tables, &name);
        let (table, note) = match (&a, &b) {
            (Some((_, ta)), Some((_, tb))) => {
                let names = |t: &Table| t.columns.iter().map(|c| c.name.clone()).collect();
                let (from, to): (Vec<String>, Vec<String>) = (names(ta), names(tb));
                let note = (from != to).then_some(TableNote::ColumnsDiffer { from, to });
                (ta.clone(), note)
            }
            (Some((_, t)), None) => (t.clone(), Some(TableNote::OnlyInFrom)),
            (None, Some((_, t))) => (t.clone(), Some(TableNote::OnlyInTo)),
            (None, None) => continue,
        };
        let key = if table.primary_key.is_empty() {
            "*".to_string()
        } else {
            table.primary_key.join(", ")
        };
        let mut differ = TableDiffer {
            d: TableDiff {
                table: name.clone(),
                key,
                added: 0,
                removed: 0,
                changed: 0,
                note,
            },
            jobs: (name == "analysis_jobs").then_some(&mut out.jobs),
            columns: table.columns.iter().map(|c| c.name.clone()).collect(),
            job_id_at: table.columns.iter().position(|c| c.name == "job_id"),
        };
        // Merged when every side present is sorted and both sides key alike.
        let mergeable = [&a, &b].iter().all(|side| match side {
            Some((_, t)) => t.sorted,
            None => true,
        }) && match (&a, &b) {
            (Some((_, ta)), Some((_, tb))) => {
                ta.primary_key == tb.primary_key
                    && ta.key_columns() == tb.key_columns()
                    && ta.numeric_keys() == tb.numeric_keys()
            }
            _ => true,
        };
        if mergeable {
            let mut left = a.map(|(i, _)| SortedRows::open(from, i)).transpose()?;
            let mut right = b.map(|(i, _)| SortedRows::open(to, i)).transpose()?;
            let next = |side: &mut Option<SortedRows>| match side {
                Some(rows) => rows.next(),
                None => Ok(None),
            };
            let numeric = table.numeric_keys();
            let (mut x, mut y) = (next(&mut left)?, next(&mut right)?);
            loop {
                match (&x, &y) {
                    (None, None) => break,
                    (Some((k, row)), None) => {
                        differ.removed(k, row);
                        x = next(&mut left)?;
                    }
                    (None, Some((k, row))) => {
                        differ.added(k, row);
                        y = next(&mut right)?;
                    }
                    (Some((kx, rx)), Some((ky, ry))) => match compare_keys(&numeric, kx, ky) {
                        std::cmp::Ordering::Less => {
                            differ.removed(kx, rx);
                            x = next(&mut left)?;
                        }
                        std::cmp::Ordering::Greater => {
                            differ.added(ky, ry);
                            y = next(&mut right)?;
                        }
                        std::cmp::Ordering::Equal => {
                            differ.matched(kx, rx, ry);
                            x = next(&mut left)?;
                            y = next(&mut right)?;
                        }
                    },
                }
            }
        } else {
            let a = table_rows(from, &name)?;
            let b = table_rows(to, &name)?;
            for (k, row) in &a {
                match b.get(k) {
                    None => differ.removed(k, row),
                    Some(new) => differ.matched(k, row, new),
                }
            }
            for (k, row) in &b {
                if !a.contains_key(k) {
                    differ.added(k, row);
                }
            }
        }
        let d = differ.d;
        if d.differs() {
            out.tables.push(d);
        } else {
            out.identical_tables += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(key_type: &str, keyed: bool) -> Table {
        let column = |name: &str, data_type: &str| Column {
            name: name.into(),
            data_type: data_type.into(),
            not_null: false,
            default: None,
            identity: None,
        };
        Table {
            name: "t".into(),
            // Without a primary key the whole row is the key: one column keeps it one integer.
            columns: if keyed {
                vec![column("id", key_type), column("note", "text")]
            } else {
                vec![column("id", key_type)]
            },
            constraints: Vec::new(),
            foreign_keys: Vec::new(),
            indexes: Vec::new(),
            primary_key: if keyed { vec!["id".into()] } else { Vec::new() },
            rows: 0,
            sorted: true,
        }
    }

    /// The check's reading of row lines agrees with the general comparison of decoded keys,
    /// also across a NULL key, a key that is not a number or overflows, equal keys of a table
    /// without a primary key, and numbers written with a sign or leading zeros.
    #[test]
    fn line_order_agrees_with_the_decoded_key_order() {
        let cases: [&[&str]; 9] = [
            &["1\ta", "2\tb", "10\tc"],
            &["2\ta", "10\tb", "9\tc"],
            &["5\ta", "5\tb"],
            &["\\N\ta", "1\tb", "2\tc"],
            &["1\ta", "\\N\tb"],
            &["-3\ta", "x\tb", "y\tc", "4\td"],
            &["+5\ta", "5\tb", "007\tc", "8\td"],
            &["9\ta", "99999999999999999999\tb", "10\tc"],
            &["3", "3", "2"],
        ];
        for (key_type, keyed) in [("integer", true), ("text", true), ("integer", false)] {
            for lines in cases {
                let table = table(key_type, keyed);
                let (mut fast, mut general) = (KeyOrder::new(&table), KeyOrder::new(&table));
                for line in lines {
                    let expected = general.follows(general.key_of_line(line.as_bytes()));
                    assert_eq!(
                        fast.line_follows(line.as_bytes()),
                        expected,
                        "{key_type} {keyed} {lines:?} at {line}"
                    );
                }
            }
        }
    }
}
