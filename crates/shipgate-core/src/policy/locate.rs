//! Finds the line of a field path (`signatures.authorities[1].keyless.subject`) in block-style
//! YAML, so that errors found after parsing can still point at the line the user wrote.
//! Flow-style YAML (`{a: b}`) is not searched; such errors then name the field only.

enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn steps(path: &str) -> Option<Vec<Step<'_>>> {
    let mut out = Vec::new();
    for segment in path.split('.') {
        let (key, mut rest) = match segment.find('[') {
            Some(i) => (&segment[..i], &segment[i..]),
            None => (segment, ""),
        };
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return None;
        }
        out.push(Step::Key(key));
        while let Some(stripped) = rest.strip_prefix('[') {
            let (n, after) = stripped.split_once(']')?;
            out.push(Step::Index(n.parse().ok()?));
            rest = after;
        }
        if !rest.is_empty() {
            return None;
        }
    }
    Some(out)
}

/// Indentation and content of a line, with a list dash counted as indentation.
fn shape(line: &str) -> (usize, bool, &str) {
    let indent = line.len() - line.trim_start().len();
    let content = line.trim_start();
    match content.strip_prefix("- ") {
        Some(rest) => (indent + 2, true, rest.trim_start()),
        None => (indent, false, content),
    }
}

/// 1-based line of the field `path`, if it can be found.
pub fn line_of_path(text: &str, path: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut at = 0usize; // line to search from
    let mut parent: isize = -1; // indentation of the enclosing key
    let mut inclusive = true;
    for step in steps(path)? {
        let from = if inclusive { at } else { at + 1 };
        match step {
            Step::Key(key) => {
                let mut found = None;
                for (i, line) in lines.iter().enumerate().skip(from) {
                    let (indent, _, content) = shape(line);
                    if content.is_empty() || content.starts_with('#') {
                        continue;
                    }
                    if (indent as isize) <= parent && !(inclusive && i == from) {
                        break;
                    }
                    if content
                        .strip_prefix(key)
                        .is_some_and(|r| r.starts_with(':'))
                    {
                        found = Some((i, indent));
                        break;
                    }
                }
                let (i, indent) = found?;
                at = i;
                parent = indent as isize;
                inclusive = false;
            }
            Step::Index(n) => {
                let mut seen = 0usize;
                let mut found = None;
                for (i, line) in lines.iter().enumerate().skip(from) {
                    let (indent, dash, content) = shape(line);
                    if content.is_empty() || content.starts_with('#') {
                        continue;
                    }
                    if (indent as isize) <= parent && !dash {
                        break;
                    }
                    if dash {
                        if seen == n {
                            found = Some(i);
                            break;
                        }
                        seen += 1;
                    }
                }
                at = found?;
                inclusive = true;
            }
        }
    }
    Some(at + 1)
}

#[cfg(test)]
mod tests {
    use super::line_of_path;

    const TEXT: &str = "name: x\nsignatures:\n  threshold: 1\n  authorities:\n    - name: a\n      key: k\n    - name: b\n      keyless:\n        # a comment\n        subject: s\n";

    #[test]
    fn finds_keys_and_list_items() {
        assert_eq!(line_of_path(TEXT, "name"), Some(1));
        assert_eq!(line_of_path(TEXT, "signatures.threshold"), Some(3));
        assert_eq!(line_of_path(TEXT, "signatures.authorities[0]"), Some(5));
        assert_eq!(
            line_of_path(TEXT, "signatures.authorities[0].name"),
            Some(5)
        );
        assert_eq!(line_of_path(TEXT, "signatures.authorities[0].key"), Some(6));
        assert_eq!(
            line_of_path(TEXT, "signatures.authorities[1].keyless.subject"),
            Some(10)
        );
        assert_eq!(line_of_path(TEXT, "signatures.authorities[1].key"), None);
        assert_eq!(line_of_path(TEXT, "signatures.authorities[2]"), None);
        assert_eq!(line_of_path(TEXT, "nothing here"), None);
    }
}
