//! Writing reports: every command returns a value that is both `Serialize` (for `--json`) and
//! `Render` (for people), and only `lib::run` prints it. A closed pipe ends output quietly.

use std::borrow::Cow;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

pub mod changes;
pub mod check;
pub mod errors;
pub mod labels;
pub mod replica;
pub mod restore;
pub mod snapshot;

/// Styling for human output: colour only when allowed.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(&self, text: &str, code: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    pub fn bold(&self, text: &str) -> String {
        self.paint(text, "1")
    }
    pub fn warn(&self, text: &str) -> String {
        self.paint(text, "33")
    }
    pub fn good(&self, text: &str) -> String {
        self.paint(text, "32")
    }
    pub fn bad(&self, text: &str) -> String {
        self.paint(text, "31")
    }
}

/// The human form of a report.
pub trait Render {
    fn render(&self, out: &mut String, style: Style);
}

/// The guide's rule: 70 `=`.
pub const RULE: &str = "======================================================================";

/// A title between two rules, as in the guide.
pub fn heading(out: &mut String, style: Style, title: &str) {
    out.push_str(RULE);
    out.push('\n');
    out.push_str(&style.bold(title));
    out.push('\n');
    out.push_str(RULE);
    out.push_str("\n\n");
}

/// A `--json` document: the command's name first, then the report's own fields.
#[derive(Serialize)]
struct Document<'a, R> {
    command: &'a str,
    #[serde(flatten)]
    report: &'a R,
    /// What the run copied to the replica (design.md §9), when a replica is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    replica: Option<crate::store::replica::Summary>,
}

/// How a report is printed: `--json` wins; `-q` alone prints no report (errors still reach
/// stderr and the exit status still tells), for cron and monitoring.
#[derive(Debug, Clone, Copy)]
pub enum Print {
    Json,
    Text(Style),
    Nothing,
}

/// Prints the report as JSON or text; a closed stdout (e.g. `| head`) is not an error.
pub fn emit<R: Render + Serialize>(command: &str, report: &R, print: Print) -> anyhow::Result<()> {
    let text = if let Print::Json = print {
        json_text(&Document {
            command,
            report,
            replica: crate::store::replica::summary(),
        })?
    } else if let Print::Text(style) = print {
        let mut out = String::new();
        report.render(&mut out, style);
        out
    } else {
        return Ok(());
    };
    write_stdout(&text)
}

/// The `error` member of a failed command's `--json` document.
#[derive(Serialize)]
struct ErrorMember<'a> {
    message: &'a str,
    exit_code: u8,
    hint: Option<&'a str>,
}

/// The `--json` document of a failed command: `command`, `error`, then what was known.
#[derive(Serialize)]
struct ErrorDocument<'a> {
    command: &'a str,
    error: ErrorMember<'a>,
    #[serde(flatten)]
    known: serde_json::Map<String, serde_json::Value>,
}

/// Prints the one `--json` document of a command that failed (design.md §6): the error (its
/// message as on stderr, the exit code, the hint) and the fields of `known` (an object: what
/// the command had found, e.g. the plan `--max-changes` refused).
pub fn emit_error(
    command: &str,
    message: &str,
    exit_code: u8,
    hint: Option<&str>,
    known: Option<&serde_json::Value>,
) {
    let mut known = known
        .and_then(|v| v.as_object())
        .cloned()
        .unwrap_or_default();
    known.remove("command");
    known.remove("error");
    let doc = ErrorDocument {
        command,
        error: ErrorMember {
            message,
            exit_code,
            hint,
        },
        known,
    };
    if let Ok(text) = json_text(&doc) {
        let _ = write_stdout(&text);
    }
}

/// Indented for a person at a terminal; one line when piped, so `>> runs.jsonl` logs one line
/// per run.
fn json_text<T: Serialize>(doc: &T) -> anyhow::Result<String> {
    let mut text = if std::io::stdout().is_terminal() {
        serde_json::to_string_pretty(doc)?
    } else {
        serde_json::to_string(doc)?
    };
    text.push('\n');
    Ok(text)
}

fn write_stdout(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Set once at start-up from `-q`: notices are then not printed (errors always are).
static QUIET: AtomicBool = AtomicBool::new(false);

pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// A notice on stderr (a wait, a retry, a note on what happened); `-q` silences it.
pub fn notice(message: &str) {
    if !QUIET.load(Ordering::Relaxed) {
        // Notices quote files others can write (the lock file's holder line).
        let _ = writeln!(std::io::stderr(), "{}", esc(message));
    }
}

/// Text from the database, a file or the command line made safe for a terminal: control
/// characters (ESC, BEL, CR, newline, C1 codes) and bidirectional overrides are shown as escapes
/// (`\x1b`, `\r`, `\n`, `\u{202e}`), so stored text can neither drive the terminal nor forge
/// report lines. Every human report passes stored text through this; `--json` escapes by itself.
pub fn esc(text: &str) -> Cow<'_, str> {
    let unsafe_char =
        |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if unsafe_char(c) && (c as u32) < 0x80 => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if unsafe_char(c) => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Text columns aligned by display width (Hangul and other wide characters count as two
/// columns, `unicode-width`), separated by two spaces; `right[i]` right-aligns column `i`. The
/// last column is not padded. Each row ends with a newline.
pub fn columns(rows: &[Vec<String>], right: &[bool]) -> String {
    use unicode_width::UnicodeWidthStr;
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.width())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = " ".repeat(widths[i].saturating_sub(cell.width()));
            let last = i + 1 == row.len();
            if right.get(i).copied().unwrap_or(false) {
                line.push_str(&pad);
                line.push_str(cell);
            } else {
                line.push_str(cell);
                if !last {
                    line.push_str(&pad);
                }
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn control_characters_are_escaped_and_plain_text_is_kept() {
        assert_eq!(esc("/data/월요일 회의"), "/data/월요일 회의");
        assert_eq!(esc("a\x1b[2Jb\x07c\rd\ne"), "a\\x1b[2Jb\\x07c\\rd\\ne");
        assert_eq!(esc("x\u{85}y\u{202e}z"), "x\\u{0085}y\\u{202e}z");
    }
}
