//! Config errors: every problem names the file, the rule (when inside one) and the field.

use std::fmt;
use std::path::{Path, PathBuf};

/// One thing wrong with a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `rule "name"`, `rule #3` or a section such as `[server]`; `None` for the file itself.
    pub place: Option<String>,
    /// The field, dotted (`interval.mp4`); `None` when the problem is not one field's.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(place) = &self.place {
            write!(f, "{place}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Why a config file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file was read but is not a valid config; every problem found is listed.
    #[error("{}", problem_lines(path, problems).join("\n"))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem found, in file order.
        problems: Vec<Problem>,
    },
}

impl ConfigError {
    /// Every problem, one line each, prefixed with the file.
    pub fn lines(&self) -> Vec<String> {
        match self {
            ConfigError::Read { .. } => vec![self.to_string()],
            ConfigError::Invalid { path, problems } => problem_lines(path, problems),
        }
    }
}

fn problem_lines(path: &Path, problems: &[Problem]) -> Vec<String> {
    problems
        .iter()
        .map(|p| format!("{}: {p}", path.display()))
        .collect()
}
