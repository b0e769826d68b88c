//! `[overrides] store`: where overrides are kept, as the config names it, and as it may
//! be logged (never with a password).

use sqlx::postgres::PgConnectOptions;
use std::fmt;
use std::path::PathBuf;

#[derive(Clone, PartialEq, Eq)]
pub enum StoreSpec {
    /// No store: the override API answers 503 and no override ever applies.
    Off,
    /// An SQLite file, created on first use.
    Sqlite(PathBuf),
    /// A PostgreSQL URL.
    Postgres(String),
}

impl StoreSpec {
    /// Reads `off`, `sqlite:PATH` or `postgres://...`; a relative SQLite path is taken from
    /// `base` (the config file's directory).
    pub fn parse(text: &str, base: &std::path::Path) -> Result<StoreSpec, String> {
        if text == "off" {
            return Ok(StoreSpec::Off);
        }
        if let Some(path) = text.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err("\"sqlite:\" needs a file path, e.g. \"sqlite:overrides.db\"".into());
            }
            return Ok(StoreSpec::Sqlite(base.join(path)));
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return text
                .parse::<PgConnectOptions>()
                .map(|_| StoreSpec::Postgres(text.to_owned()))
                .map_err(|e| format!("not a usable PostgreSQL URL: {e}"));
        }
        Err("expected \"off\", \"sqlite:PATH\" or \"postgres://USER@HOST/DB\"".into())
    }

    /// `off`, `sqlite` or `postgres`.
    pub fn kind(&self) -> &'static str {
        match self {
            StoreSpec::Off => "off",
            StoreSpec::Sqlite(_) => "sqlite",
            StoreSpec::Postgres(_) => "postgres",
        }
    }
}

impl fmt::Display for StoreSpec {
    /// The store as it may be logged: a PostgreSQL password is never shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreSpec::Off => f.write_str("off"),
            StoreSpec::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            StoreSpec::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

impl fmt::Debug for StoreSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `postgres://user:secret@host/db` as `postgres://user:***@host/db`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_once('/').map_or((rest, ""), |(a, t)| (a, t));
    let authority = match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{user_info}@{host}"),
        },
        None => authority.to_owned(),
    };
    let tail = tail.split_once('?').map_or(tail, |(path, _)| path);
    format!("{scheme}://{authority}/{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn store_settings_are_read_and_passwords_never_shown() {
        let base = Path::new("/etc/recgate");
        assert_eq!(StoreSpec::parse("off", base), Ok(StoreSpec::Off));
        assert_eq!(
            StoreSpec::parse("sqlite:overrides.db", base),
            Ok(StoreSpec::Sqlite(PathBuf::from(
                "/etc/recgate/overrides.db"
            )))
        );
        assert_eq!(
            StoreSpec::parse("sqlite:///var/lib/recgate/o.db", base),
            Ok(StoreSpec::Sqlite(PathBuf::from("/var/lib/recgate/o.db")))
        );
        assert!(StoreSpec::parse("sqlite:", base).is_err());
        assert!(StoreSpec::parse("mysql://x", base).is_err());
        let spec = StoreSpec::parse(
            "postgres://rec:s3cret@db.internal:5432/rec?sslmode=require",
            base,
        );
        let shown = spec.map(|s| s.to_string()).unwrap_or_default();
        assert_eq!(shown, "postgres://rec:***@db.internal:5432/rec");
    }
}
