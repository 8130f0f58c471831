//! The runner's side of a step: workflow commands on stdout (`::error`, `::add-mask::`,
//! `::stop-commands::`) and the `$GITHUB_OUTPUT` / `$GITHUB_STEP_SUMMARY` files.
//!
//! Formats follow GitHub's "Workflow commands for GitHub Actions" page and
//! `@actions/core` (`toCommandValue`, `escapeData`, `escapeProperty`, `prepareKeyValueMessage`).

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Why a runner file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RunnerFileError {
    #[error("cannot append to {variable} ({path}): {source}")]
    Write {
        variable: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("output `{0}`: could not find a heredoc delimiter that does not occur in the value")]
    Delimiter(String),
}

/// Escapes the message part of a workflow command (`::error::MESSAGE`): `%`, CR and LF, so
/// that a reason cannot end the command or start another one on a new line.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value (`title=VALUE`): as data, plus `:` and `,`, which end a property.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Severity of an annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
}

/// `::error title=TITLE::MESSAGE`, one line, escaped.
pub fn annotation(level: Level, title: &str, message: &str) -> String {
    let command = match level {
        Level::Error => "error",
        Level::Warning => "warning",
    };
    format!(
        "::{command} title={}::{}",
        escape_property(title),
        escape_data(message)
    )
}

/// A delimiter for the `name<<DELIMITER` form, as `@actions/core` makes them
/// (`ghadelimiter_<random>`), so that a value cannot close its own heredoc.
pub fn random_delimiter() -> String {
    let mut bytes = [0u8; 16];
    // A failed system RNG leaves zeros; `output_entry` still refuses a delimiter that occurs
    // in the value, so the result stays well-formed either way.
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    format!("ghadelimiter_{}", hex::encode(bytes))
}

/// One `$GITHUB_OUTPUT` entry: `name=value\n` for a one-line value, else the heredoc form
/// `name<<DELIM\nvalue\nDELIM\n` with `delimiter`, which must occur in neither name nor value.
pub fn output_entry(name: &str, value: &str, delimiter: &str) -> Result<String, RunnerFileError> {
    if !value.contains(['\n', '\r']) {
        return Ok(format!("{name}={value}\n"));
    }
    if delimiter.is_empty() || value.contains(delimiter) || name.contains(delimiter) {
        return Err(RunnerFileError::Delimiter(name.to_string()));
    }
    Ok(format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"))
}

/// All outputs of the step as one block, each multi-line value with a fresh random delimiter.
pub fn outputs_block(outputs: &[(&str, String)]) -> Result<String, RunnerFileError> {
    let mut block = String::new();
    for (name, value) in outputs {
        // A random 128-bit delimiter colliding with the value is not going to happen twice.
        let entry = output_entry(name, value, &random_delimiter())
            .or_else(|_| output_entry(name, value, &random_delimiter()))?;
        block.push_str(&entry);
    }
    Ok(block)
}

/// The runner files this step writes to; `None` when running outside Actions.
#[derive(Debug, Clone, Default)]
pub struct RunnerFiles {
    pub output: Option<PathBuf>,
    pub step_summary: Option<PathBuf>,
}

impl RunnerFiles {
    /// Reads `GITHUB_OUTPUT` and `GITHUB_STEP_SUMMARY` (empty counts as unset).
    pub fn from_env() -> RunnerFiles {
        let path = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        RunnerFiles {
            output: path("GITHUB_OUTPUT"),
            step_summary: path("GITHUB_STEP_SUMMARY"),
        }
    }
}

/// Appends `text` to `path` in one write (the runner may have written to it before us, and
/// other steps' content must stay).
pub fn append(variable: &'static str, path: &Path, text: &str) -> Result<(), RunnerFileError> {
    let err = |source| RunnerFileError::Write {
        variable,
        path: path.display().to_string(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(err)?;
    file.write_all(text.as_bytes()).map_err(err)?;
    file.flush().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_escapes_percent_cr_lf_only() {
        assert_eq!(escape_data("50% a\r\nb: c, d"), "50%25 a%0D%0Ab: c, d");
        assert_eq!(
            escape_data("%0A"),
            "%250A",
            "an escaped sequence is not passed through"
        );
    }

    #[test]
    fn properties_also_escape_colon_and_comma() {
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }

    #[test]
    fn annotation_cannot_inject_a_second_command() {
        let line = annotation(
            Level::Error,
            "shipgate",
            "bad\n::add-mask::x\r\n::set-env name=A::b",
        );
        assert_eq!(
            line,
            "::error title=shipgate::bad%0A::add-mask::x%0D%0A::set-env name=A::b"
        );
        assert!(!line.contains('\n'));
        assert_eq!(
            annotation(Level::Warning, "t: x, y", "m"),
            "::warning title=t%3A x%2C y::m"
        );
    }

    #[test]
    fn one_line_values_use_the_simple_form() {
        assert_eq!(
            output_entry("decision", "pass", "D").unwrap(),
            "decision=pass\n"
        );
        assert_eq!(output_entry("digest", "", "D").unwrap(), "digest=\n");
    }

    #[test]
    fn multi_line_values_use_a_heredoc_with_the_delimiter() {
        assert_eq!(
            output_entry("digest", "sha256:a\nsha256:b", "EOF_X").unwrap(),
            "digest<<EOF_X\nsha256:a\nsha256:b\nEOF_X\n"
        );
        assert_eq!(
            output_entry("x", "a\r\nb", "EOF_X").unwrap(),
            "x<<EOF_X\na\r\nb\nEOF_X\n"
        );
    }

    #[test]
    fn a_delimiter_inside_the_value_is_refused() {
        let value = "line\nghadelimiter_1\nx=y";
        assert!(matches!(
            output_entry("digest", value, "ghadelimiter_1"),
            Err(RunnerFileError::Delimiter(_))
        ));
        assert!(output_entry("digest", value, "").is_err());
    }

    #[test]
    fn random_delimiters_are_fresh_and_prefixed() {
        let a = random_delimiter();
        let b = random_delimiter();
        assert!(a.starts_with("ghadelimiter_") && a.len() == "ghadelimiter_".len() + 32);
        assert_ne!(a, b);
    }

    #[test]
    fn outputs_block_joins_entries_in_order() {
        let block = outputs_block(&[
            ("decision", "fail".into()),
            ("digest", "sha256:a\nsha256:b".into()),
        ])
        .unwrap();
        let mut lines = block.lines();
        assert_eq!(lines.next(), Some("decision=fail"));
        let open = lines.next().unwrap();
        let delimiter = open.strip_prefix("digest<<").unwrap();
        assert!(delimiter.starts_with("ghadelimiter_"));
        assert_eq!(lines.next(), Some("sha256:a"));
        assert_eq!(lines.next(), Some("sha256:b"));
        assert_eq!(lines.next(), Some(delimiter));
        assert_eq!(lines.next(), None);
    }

    #[test]
    fn append_keeps_what_was_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        std::fs::write(&path, "earlier=1\n").unwrap();
        append("GITHUB_OUTPUT", &path, "decision=pass\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "earlier=1\ndecision=pass\n"
        );
        let missing_dir = dir.path().join("no/such/dir/out");
        let e = append("GITHUB_OUTPUT", &missing_dir, "x").unwrap_err();
        assert!(e.to_string().contains("GITHUB_OUTPUT"), "{e}");
    }
}
