//! The output language. It is chosen once at start-up and read everywhere a human message is
//! made, so every message can exist in Korean and English without threading a parameter
//! through every function.

use std::sync::atomic::{AtomicBool, Ordering};

/// The language of human output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ko,
    En,
}

static KOREAN: AtomicBool = AtomicBool::new(false);

pub fn set(lang: impl Into<Lang>) {
    KOREAN.store(lang.into() == Lang::Ko, Ordering::Relaxed);
}

pub fn is_korean() -> bool {
    KOREAN.load(Ordering::Relaxed)
}

/// `--lang`, else `JOBSWEEP_LANG` (handled by clap), else the first of `LC_ALL`, `LC_MESSAGES`,
/// `LANG` that is set: Korean when it starts with `ko`, English otherwise.
pub fn detect(explicit: Option<Lang>) -> Lang {
    if let Some(lang) = explicit {
        return lang;
    }
    let locale = ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|value| !value.is_empty())
        .unwrap_or_default();
    if locale.to_ascii_lowercase().starts_with("ko") {
        Lang::Ko
    } else {
        Lang::En
    }
}

/// `t!("한국어 {x}", "English {x}")` formats the message of the current language.
#[macro_export]
macro_rules! t {
    ($ko:literal, $en:literal $(, $arg:expr)* $(,)?) => {
        if $crate::i18n::is_korean() {
            format!($ko $(, $arg)*)
        } else {
            format!($en $(, $arg)*)
        }
    };
}
