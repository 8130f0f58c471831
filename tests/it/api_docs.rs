//! The committed descriptions in `docs/` are generated from the types: the decision's JSON
//! Schema, the OpenAPI description and the table of check codes. Each test fails when the
//! committed copy drifts from the code; `SHIPGATE_UPDATE_DOCS=1 cargo test api_docs` rewrites
//! them (review the diff: a changed code or field is a changed API).

use std::path::PathBuf;

use serde_json::Value;

fn doc(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("docs")
        .join(name)
}

fn check_committed(name: &str, generated: &str) {
    let path = doc(name);
    if std::env::var_os("SHIPGATE_UPDATE_DOCS").is_some() {
        std::fs::write(&path, generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/{name} is out of date with the code: run `SHIPGATE_UPDATE_DOCS=1 cargo test api_docs` and commit it"
    );
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap() + "\n"
}

#[test]
fn decision_schema_is_committed() {
    check_committed(
        "decision.schema.json",
        &pretty(&shipgate::api_docs::decision_schema()),
    );
}

#[test]
fn openapi_is_committed() {
    check_committed("openapi.json", &pretty(&shipgate::api_docs::openapi()));
}

#[test]
fn codes_are_committed() {
    check_committed("codes.md", &shipgate::api_docs::codes_markdown());
}

/// Every `$ref` of the OpenAPI description names a schema it defines.
#[test]
fn openapi_references_resolve() {
    let api = shipgate::api_docs::openapi();
    let schemas = api["components"]["schemas"].as_object().unwrap();
    let mut refs = Vec::new();
    collect_refs(&api, &mut refs);
    assert!(refs.len() > 5, "{refs:?}");
    for r in refs {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected $ref {r}"));
        assert!(schemas.contains_key(name), "dangling $ref {r}");
    }
    for code in shipgate::decision::CheckCode::ALL {
        assert!(
            api.to_string().contains(&format!("\"{}\"", code.as_str())),
            "code {code} missing from the schema"
        );
    }
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r.clone());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// The real binary prints the same descriptions.
#[test]
fn the_binary_prints_them() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_shipgate"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let schema: Value = serde_json::from_str(&run(&["decision", "schema"])).unwrap();
    assert_eq!(schema, shipgate::api_docs::decision_schema());
    let api: Value = serde_json::from_str(&run(&["openapi"])).unwrap();
    assert_eq!(api["openapi"], "3.1.0");
    assert!(run(&["decision", "codes"]).contains("`signature-missing`"));
}

/// A real decision validates structurally: its check codes are among the schema's enum.
#[test]
fn decisions_use_only_documented_codes() {
    let schema = shipgate::api_docs::decision_schema().to_string();
    for code in shipgate::decision::CheckCode::ALL {
        assert!(schema.contains(code.as_str()), "{code}");
    }
    let docs = std::fs::read_to_string(doc("codes.md")).unwrap();
    for code in shipgate::decision::CheckCode::ALL {
        assert!(
            docs.contains(&format!("`{code}`")),
            "docs/codes.md lacks {code}"
        );
    }
}
