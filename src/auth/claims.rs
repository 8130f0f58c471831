//! Claim rules of an OIDC issuer entry: each named claim must equal a value or be one of a list.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::config::ClaimRule;

/// The most values one rule may list, and the most rules one entry may have.
const MAX_VALUES: usize = 256;
const MAX_RULES: usize = 64;

/// Claim name → allowed values (as strings), validated.
#[derive(Debug, Clone)]
pub struct ClaimRules {
    rules: Vec<(String, Vec<String>)>,
}

impl ClaimRules {
    pub fn from_config(config: &BTreeMap<String, ClaimRule>) -> Result<ClaimRules, String> {
        if config.len() > MAX_RULES {
            return Err(format!("at most {MAX_RULES} claim rules per issuer entry"));
        }
        let mut rules = Vec::with_capacity(config.len());
        for (name, rule) in config {
            if name.is_empty() {
                return Err("a claim rule has an empty claim name".into());
            }
            let values: Vec<String> = match rule {
                ClaimRule::One(v) => vec![v.to_text()],
                ClaimRule::AnyOf(vs) => vs.iter().map(|v| v.to_text()).collect(),
            };
            if values.is_empty() {
                return Err(format!(
                    "claim `{name}` lists no values; an empty list would refuse every token"
                ));
            }
            if values.len() > MAX_VALUES {
                return Err(format!(
                    "claim `{name}` lists more than {MAX_VALUES} values"
                ));
            }
            rules.push((name.clone(), values));
        }
        Ok(ClaimRules { rules })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|(name, _)| name.as_str())
    }

    /// `Err` says which claim is missing or outside its rule.
    pub fn check(&self, claims: &Map<String, Value>) -> Result<(), String> {
        for (name, allowed) in &self.rules {
            let actual = match claims.get(name) {
                None | Some(Value::Null) => {
                    return Err(format!(
                        "the token has no `{name}` claim, which the rules require"
                    ))
                }
                Some(Value::String(s)) => s.clone(),
                // Compared by string form: IDs may arrive as numbers from some issuers.
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::Bool(b)) => b.to_string(),
                Some(_) => {
                    return Err(format!(
                        "claim `{name}` is not a single value (string, number or boolean)"
                    ))
                }
            };
            if !allowed.contains(&actual) {
                return Err(format!(
                    "claim `{name}` is `{}`, not {}",
                    shorten(&actual),
                    describe(allowed)
                ));
            }
        }
        Ok(())
    }
}

fn describe(allowed: &[String]) -> String {
    match allowed {
        [one] => format!("`{one}`"),
        many => format!(
            "one of {}",
            many.iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Claim values come from the caller: bounded before they reach an error message or a log.
pub(crate) fn shorten(s: &str) -> String {
    const MAX: usize = 200;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::super::config::ClaimValue;
    use super::*;
    use serde_json::json;

    fn rules(yaml: &str) -> ClaimRules {
        let config: BTreeMap<String, ClaimRule> = serde_yaml::from_str(yaml).unwrap();
        ClaimRules::from_config(&config).unwrap()
    }

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn single_values_lists_and_numbers() {
        let r = rules(
            "{repository_owner: acme, repository_id: 42, ref: [refs/heads/main, refs/tags/v1]}",
        );
        let ok =
            claims(json!({"repository_owner":"acme","repository_id":"42","ref":"refs/tags/v1"}));
        assert_eq!(r.check(&ok), Ok(()));
        let numeric =
            claims(json!({"repository_owner":"acme","repository_id":42,"ref":"refs/heads/main"}));
        assert_eq!(r.check(&numeric), Ok(()));
        let wrong =
            claims(json!({"repository_owner":"evil","repository_id":"42","ref":"refs/heads/main"}));
        assert_eq!(
            r.check(&wrong).unwrap_err(),
            "claim `repository_owner` is `evil`, not `acme`"
        );
        let wrong_ref =
            claims(json!({"repository_owner":"acme","repository_id":"42","ref":"refs/heads/dev"}));
        assert_eq!(
            r.check(&wrong_ref).unwrap_err(),
            "claim `ref` is `refs/heads/dev`, not one of `refs/heads/main`, `refs/tags/v1`"
        );
        let missing = claims(json!({"repository_owner":"acme","ref":"refs/heads/main"}));
        assert!(r
            .check(&missing)
            .unwrap_err()
            .contains("no `repository_id` claim"));
        let array = claims(
            json!({"repository_owner":["acme"],"repository_id":"42","ref":"refs/heads/main"}),
        );
        assert!(r.check(&array).unwrap_err().contains("not a single value"));
    }

    #[test]
    fn an_empty_list_is_refused() {
        let mut config = BTreeMap::new();
        config.insert(
            "ref".to_string(),
            ClaimRule::AnyOf(Vec::<ClaimValue>::new()),
        );
        assert!(ClaimRules::from_config(&config)
            .unwrap_err()
            .contains("lists no values"));
    }
}
