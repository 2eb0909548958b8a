//! Reading the app's timestamps (design.md §2) and `--now`.
//!
//! The app stores naive UTC text; older rows and other tools may carry a `T`, a `Z` or an offset,
//! or Unix seconds. Anything else is "unreadable", which makes a job's age unknown.

use chrono::{DateTime, FixedOffset, Local, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// How naive timestamps are read (`--db-timezone`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbTimezone {
    Utc,
    Local,
    Fixed(FixedOffset),
}

impl DbTimezone {
    pub fn parse(text: &str) -> Option<DbTimezone> {
        match text.trim().to_ascii_lowercase().as_str() {
            "utc" | "z" => Some(DbTimezone::Utc),
            "local" => Some(DbTimezone::Local),
            other => parse_offset(other).map(DbTimezone::Fixed),
        }
    }

    fn to_utc(self, naive: NaiveDateTime) -> Option<DateTime<Utc>> {
        match self {
            DbTimezone::Utc => Some(naive.and_utc()),
            // A local time that falls in a DST gap does not exist: treat it as unreadable.
            DbTimezone::Local => Local
                .from_local_datetime(&naive)
                .earliest()
                .map(|t| t.to_utc()),
            DbTimezone::Fixed(offset) => offset
                .from_local_datetime(&naive)
                .single()
                .map(|t| t.to_utc()),
        }
    }
}

/// `+09:00`, `-0530`, `+09`.
fn parse_offset(text: &str) -> Option<FixedOffset> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes) = match digits.len() {
        2 => (digits.parse::<i32>().ok()?, 0),
        4 => (
            digits[..2].parse::<i32>().ok()?,
            digits[2..].parse::<i32>().ok()?,
        ),
        _ => return None,
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

/// A text timestamp in any accepted form; `None` when it cannot be read.
pub fn parse_text(text: &str, tz: DbTimezone) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Some(naive) = parse_app_form(text) {
        return tz.to_utc(naive);
    }
    if text.is_empty() {
        return None;
    }
    if let Ok(seconds) = text.parse::<f64>() {
        return from_unix(seconds);
    }
    // Split off a `Z` or a `+HH:MM` suffix; the date part itself contains `-`, so only look
    // for a sign after the time begins (position 11 and on).
    let (body, offset) = if let Some(body) = text.strip_suffix(['Z', 'z']) {
        (body, Some(FixedOffset::east_opt(0)?))
    } else if let Some(pos) = text
        .get(11..)
        .and_then(|t| t.rfind(['+', '-']))
        .map(|p| p + 11)
    {
        (&text[..pos], Some(parse_offset(text[pos..].trim())?))
    } else {
        (text, None)
    };
    let body = body.trim_end();
    let body = if body.len() > 10 && matches!(body.as_bytes()[10], b'T' | b't') {
        format!("{} {}", &body[..10], &body[11..])
    } else {
        body.to_string()
    };
    let naive = NaiveDateTime::parse_from_str(&body, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(&body, "%Y-%m-%d %H:%M"))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(&body, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    match offset {
        Some(offset) => offset
            .from_local_datetime(&naive)
            .single()
            .map(|t| t.to_utc()),
        None => tz.to_utc(naive),
    }
}

/// The app's own form, `YYYY-MM-DD HH:MM:SS[.ffffff]`, read without the general parser: it is
/// what nearly every row holds, and `check` reads one per job.
fn parse_app_form(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |acc, d| {
            d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
        })
    };
    let nanos = match &b[19..] {
        [] => 0,
        [b'.', frac @ ..] if !frac.is_empty() && frac.len() <= 9 => {
            let digits = num(20..b.len())?;
            digits * 10u32.pow(9 - frac.len() as u32)
        }
        _ => return None,
    };
    NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?.and_hms_nano_opt(
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
        nanos,
    )
}

fn from_unix(seconds: f64) -> Option<DateTime<Utc>> {
    if !seconds.is_finite() {
        return None;
    }
    let whole = seconds.floor();
    let nanos = ((seconds - whole) * 1e9).round().min(999_999_999.0) as u32;
    if whole.abs() > 1e14 {
        return None;
    }
    DateTime::from_timestamp(whole as i64, nanos)
}

/// What a timestamp column held.
#[derive(Debug, Clone, PartialEq)]
pub enum Stamp {
    Missing,
    At(DateTime<Utc>),
    Unreadable(String),
}

impl Stamp {
    /// A number of Unix seconds (integer or real column values).
    pub fn from_unix(seconds: f64, shown: String) -> Stamp {
        from_unix(seconds).map_or(Stamp::Unreadable(shown), Stamp::At)
    }

    /// A text value, read as the app writes it (or RFC 3339) in `tz`.
    pub fn from_text(text: &str, tz: DbTimezone) -> Stamp {
        parse_text(text, tz).map_or_else(|| Stamp::Unreadable(text.to_string()), Stamp::At)
    }

    pub fn at(&self) -> Option<DateTime<Utc>> {
        match self {
            Stamp::At(t) => Some(*t),
            _ => None,
        }
    }
}

/// `--now`: RFC 3339, or the app's own naive form read in `--db-timezone`.
pub fn parse_now(text: &str, tz: DbTimezone) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.to_utc())
        .ok()
        .or_else(|| parse_text(text, tz))
}

/// Formats a UTC time the way the app stores it.
pub fn display(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn reads_every_form_of_the_spec() {
        let tz = DbTimezone::Utc;
        let want = utc("2026-02-20T14:30:15Z");
        for text in [
            "2026-02-20 14:30:15",
            "2026-02-20T14:30:15",
            "2026-02-20 14:30:15Z",
            "2026-02-20T14:30:15+00:00",
            "2026-02-20 23:30:15+09:00",
            "2026-02-20 23:30:15+0900",
            "2026-02-20T05:30:15-09:00",
            "1771597815",
        ] {
            assert_eq!(parse_text(text, tz), Some(want), "{text}");
        }
        assert_eq!(
            parse_text("2026-02-20 14:30:15.250000", tz),
            Some(utc("2026-02-20T14:30:15.25Z"))
        );
        assert_eq!(
            Stamp::from_unix(1_771_597_815.0, String::new()),
            Stamp::At(want)
        );
        assert_eq!(
            Stamp::from_unix(1_771_597_815.5, String::new()),
            Stamp::At(utc("2026-02-20T14:30:15.5Z"))
        );
    }

    #[test]
    fn naive_values_follow_the_db_timezone_but_explicit_offsets_do_not() {
        let seoul = DbTimezone::parse("+09:00").unwrap();
        assert_eq!(
            parse_text("2026-02-20 23:30:15", seoul),
            Some(utc("2026-02-20T14:30:15Z"))
        );
        assert_eq!(
            parse_text("2026-02-20 14:30:15Z", seoul),
            Some(utc("2026-02-20T14:30:15Z"))
        );
    }

    #[test]
    fn garbage_is_unreadable() {
        let tz = DbTimezone::Utc;
        for text in [
            "",
            "yesterday",
            "2026-13-01 00:00:00",
            "2026-02-20 25:00:00",
            "20/02/2026",
        ] {
            assert_eq!(parse_text(text, tz), None, "{text}");
        }
        assert!(matches!(Stamp::from_text("soon", tz), Stamp::Unreadable(_)));
        assert!(matches!(
            Stamp::from_unix(f64::NAN, "NaN".into()),
            Stamp::Unreadable(_)
        ));
    }

    #[test]
    fn timezone_names() {
        assert_eq!(DbTimezone::parse("UTC"), Some(DbTimezone::Utc));
        assert_eq!(DbTimezone::parse("local"), Some(DbTimezone::Local));
        assert!(matches!(
            DbTimezone::parse("-05:30"),
            Some(DbTimezone::Fixed(_))
        ));
        assert_eq!(DbTimezone::parse("Asia/Seoul"), None);
        assert_eq!(DbTimezone::parse("+25:00"), None);
    }
}
