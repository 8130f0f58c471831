//! Bounds on what a decision quotes: whatever a registry sends, a decision stays small.

use super::Check;

/// Longest reason a check keeps (bytes); longer ones are cut with a marker.
pub const MAX_REASON_BYTES: usize = 4 * 1024;
/// Longest string kept anywhere in a check's evidence (bytes).
pub const MAX_EVIDENCE_STRING_BYTES: usize = 1024;
/// Most items kept of a list (or entries of an object) in evidence; the rest are counted.
pub const MAX_EVIDENCE_ITEMS: usize = 32;
/// Deepest nesting kept in evidence; deeper values are replaced by a marker.
pub const MAX_EVIDENCE_DEPTH: usize = 8;
/// What all checks of a decision take at most when serialized (bytes). With the policies,
/// image and times around them a decision stays well under 64 KiB, whatever a registry sends.
pub const MAX_CHECKS_BYTES: usize = 56 * 1024;
/// The reason length used when even evidence-free checks are over [`MAX_CHECKS_BYTES`].
const MIN_REASON_BYTES: usize = 512;

/// `text` cut to at most `max` bytes (on a character boundary) plus a marker that says how
/// much was left out, so a reader knows it is not the whole text.
pub fn truncate_text(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}… [{} more bytes truncated]",
        &text[..end],
        text.len() - end
    )
}

/// Bounds `value` in place: strings cut, lists and objects capped (an `"… N more"` item or
/// entry says how many were dropped), nesting cut at [`MAX_EVIDENCE_DEPTH`].
pub fn bound_evidence(value: &mut serde_json::Value) {
    bound_value(value, 0);
}

fn bound_value(value: &mut serde_json::Value, depth: usize) {
    use serde_json::Value;
    if depth >= MAX_EVIDENCE_DEPTH && (value.is_array() || value.is_object()) {
        *value = Value::String("… [nested too deep, omitted]".to_string());
        return;
    }
    match value {
        Value::String(s) if s.len() > MAX_EVIDENCE_STRING_BYTES => {
            *s = truncate_text(s, MAX_EVIDENCE_STRING_BYTES);
        }
        Value::Array(items) => {
            if items.len() > MAX_EVIDENCE_ITEMS {
                let more = items.len() - MAX_EVIDENCE_ITEMS;
                items.truncate(MAX_EVIDENCE_ITEMS);
                items.push(Value::String(format!("… {more} more")));
            }
            for item in items.iter_mut() {
                bound_value(item, depth + 1);
            }
        }
        Value::Object(map) => {
            if map.len() > MAX_EVIDENCE_ITEMS {
                let more = map.len() - MAX_EVIDENCE_ITEMS;
                let kept: serde_json::Map<String, Value> = std::mem::take(map)
                    .into_iter()
                    .take(MAX_EVIDENCE_ITEMS)
                    .collect();
                *map = kept;
                map.insert(
                    "…".to_string(),
                    Value::String(format!("{more} more entries")),
                );
            }
            // Keys can come from the registry (annotations) too.
            if map.keys().any(|k| k.len() > MAX_EVIDENCE_STRING_BYTES) {
                let entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
                for (k, v) in entries {
                    map.insert(truncate_text(&k, MAX_EVIDENCE_STRING_BYTES), v);
                }
            }
            for v in map.values_mut() {
                bound_value(v, depth + 1);
            }
        }
        _ => {}
    }
}

fn serialized_len(check: &Check) -> usize {
    serde_json::to_vec(check).map_or(usize::MAX, |v| v.len())
}

/// Every check bounded ([`truncate_text`] on the reason, [`bound_evidence`] on the evidence),
/// then, while all of them together are over [`MAX_CHECKS_BYTES`], the largest evidence is
/// replaced by a note of its size, and last the reasons are shortened further. Results are
/// never changed: only what is quoted.
pub fn bound_checks(mut checks: Vec<Check>) -> Vec<Check> {
    for c in &mut checks {
        if c.reason.len() > MAX_REASON_BYTES {
            c.reason = truncate_text(&c.reason, MAX_REASON_BYTES);
        }
        bound_evidence(&mut c.evidence);
    }
    let mut sizes: Vec<usize> = checks.iter().map(serialized_len).collect();
    let total = |sizes: &[usize]| sizes.iter().fold(0usize, |a, b| a.saturating_add(*b));
    while total(&sizes) > MAX_CHECKS_BYTES {
        // The largest check whose evidence is still there.
        let Some(i) = (0..checks.len())
            .filter(|&i| {
                !checks[i].evidence.is_null() && checks[i].evidence.get("omitted").is_none()
            })
            .max_by_key(|&i| sizes[i])
        else {
            break;
        };
        let bytes = serde_json::to_vec(&checks[i].evidence).map_or(0, |v| v.len());
        // Top-level flags stay: adapters act on them (`scan_pending` decides wait-or-fail).
        let mut kept: serde_json::Map<String, serde_json::Value> = checks[i]
            .evidence
            .as_object()
            .map(|o| {
                o.iter()
                    .filter(|(_, v)| v.is_boolean())
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        kept.insert(
            "omitted".into(),
            format!(
                "{bytes} bytes of evidence left out to keep the decision under {} KiB",
                MAX_CHECKS_BYTES / 1024 + 8
            )
            .into(),
        );
        checks[i].evidence = serde_json::Value::Object(kept);
        sizes[i] = serialized_len(&checks[i]);
    }
    if total(&sizes) > MAX_CHECKS_BYTES {
        for c in &mut checks {
            if c.reason.len() > MIN_REASON_BYTES {
                c.reason = truncate_text(&c.reason, MIN_REASON_BYTES);
            }
        }
    }
    checks
}
