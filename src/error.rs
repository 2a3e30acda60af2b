//! Library errors. Findings are data (`diag::Diagnostic`), never errors: an
//! `Error` means the command could not do its job, and says which exit code.

use std::path::PathBuf;

/// Why a command could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag or input value breaks a rule (exit 2). Names the flag, the value and the rule.
    #[error("invalid value {value:?} for {flag}: {rule}")]
    InvalidInput {
        /// Flag or parameter name, e.g. `--vault-name`.
        flag: String,
        /// The value given (never a secret).
        value: String,
        /// The rule it breaks.
        rule: String,
    },
    /// A file could not be read or written (exit 2).
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Any other usage problem (exit 2).
    #[error("{0}")]
    Usage(String),
    /// `check` could not finish: auth, 403, network, unusable response (exit 3).
    #[error("{0}")]
    Azure(String),
    /// A bug: the tool's own output failed its self-check. Nothing was written.
    #[error("internal error (a bug in cmek-arm, please report it): {0}")]
    Internal(String),
}

impl Error {
    /// The process exit code for this error (CLI.md).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Azure(_) => 3,
            // An internal error is not the user's input, but nothing was done: 2 keeps
            // scripts from mistaking it for a finding (1).
            Error::InvalidInput { .. }
            | Error::File { .. }
            | Error::Usage(_)
            | Error::Internal(_) => 2,
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, err: &std::io::Error) -> Self {
        Error::File {
            path: path.into(),
            message: err.to_string(),
        }
    }
}

/// Result with the library error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
