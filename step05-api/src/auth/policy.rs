//! The policy language: which actions an access key may take on which tables.
//!
//! A policy is an ordered list of statements, each an effect, action
//! patterns and table patterns:
//!
//! ```json
//! [
//!   { "effect": "Allow", "actions": ["dynamodb:Get*", "dynamodb:Query"], "tables": ["orders", "orders-*"] },
//!   { "effect": "Deny",  "actions": ["*"],                                "tables": ["orders-archive"] }
//! ]
//! ```
//!
//! It is a small piece of IAM, evaluated the way IAM evaluates:
//!
//! 1. an explicit `Deny` that matches wins, whatever else matches;
//! 2. otherwise a matching `Allow` allows;
//! 3. otherwise the request is denied (*implicitly*: nothing allowed it).
//!
//! So the order of statements never changes a decision; it is kept only so
//! the file reads the way its author wrote it. Patterns are globs with `*`
//! ([`glob`](crate::auth::glob)); actions are IAM action names
//! (`dynamodb:PutItem`) and match without regard to case, as IAM's do;
//! table names match exactly. An action that names no table (`ListTables`)
//! is matched by statements whose table patterns include the bare `*`.
//!
//! An access key configured with no policy at all may do everything: the
//! policy is there to *narrow* a key, and a file without policies behaves
//! like a plain credentials file.

use serde::Deserialize;

use crate::auth::glob::{self, Case};

/// Statements in one policy, at most.
pub const POLICY_STATEMENTS_MAX: usize = 100;

/// Patterns in one statement's `actions` or `tables`, at most.
pub const STATEMENT_PATTERNS_MAX: usize = 100;

/// Bytes in one pattern, at most (a table name is at most 255).
pub const PATTERN_LENGTH_BYTES_MAX: usize = 1_024;

/// The service prefix of every DynamoDB action name.
pub const ACTION_PREFIX: &str = "dynamodb:";

/// Allow or deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum Effect {
    Allow,
    Deny,
}

/// One statement: `effect` applies to `actions` on `tables`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    pub effect: Effect,
    pub actions: Vec<String>,
    pub tables: Vec<String>,
}

/// A checked list of statements (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Vec<Statement>")]
pub struct Policy {
    statements: Vec<Statement>,
}

/// The outcome of evaluating a policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// A statement allows it and none denies it.
    Allow,
    /// A `Deny` statement matches.
    ExplicitDeny,
    /// No statement matches.
    ImplicitDeny,
}

impl Decision {
    pub fn is_allowed(self) -> bool {
        self == Decision::Allow
    }
}

impl Policy {
    /// A policy of `statements`, refused if it breaks a limit or a pattern
    /// could never match anything DynamoDB does.
    pub fn new(statements: Vec<Statement>) -> Result<Policy, String> {
        if statements.len() > POLICY_STATEMENTS_MAX {
            return Err(format!(
                "a policy has at most {POLICY_STATEMENTS_MAX} statements, this one has {}",
                statements.len()
            ));
        }
        for (index, statement) in statements.iter().enumerate() {
            check_statement(statement)
                .map_err(|problem| format!("statement {}: {problem}", index + 1))?;
        }
        Ok(Policy { statements })
    }

    /// The statements, in the order written.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    // ANCHOR: authorize
    /// Decides whether `action` (an IAM action name such as
    /// `dynamodb:PutItem`) is allowed on `table` (`None` for actions on no
    /// table, such as `dynamodb:ListTables`).
    pub fn authorize(&self, action: &str, table: Option<&str>) -> Decision {
        // EXERCISE(05.13): evaluate the statements: an explicit Deny wins, then an Allow, otherwise deny
        let mut allowed = false;
        for statement in self
            .statements
            .iter()
            .filter(|s| s.applies_to(action, table))
        {
            match statement.effect {
                Effect::Deny => return Decision::ExplicitDeny,
                Effect::Allow => allowed = true,
            }
        }
        if allowed {
            Decision::Allow
        } else {
            Decision::ImplicitDeny
        }
        // END EXERCISE
    }
    // ANCHOR_END: authorize
}

impl TryFrom<Vec<Statement>> for Policy {
    type Error = String;

    fn try_from(statements: Vec<Statement>) -> Result<Policy, String> {
        Policy::new(statements)
    }
}

impl Statement {
    /// Whether this statement speaks about `action` on `table`.
    pub fn applies_to(&self, action: &str, table: Option<&str>) -> bool {
        let action_matches = self
            .actions
            .iter()
            .any(|pattern| glob::matches(pattern, action, Case::Insensitive));
        let table_matches = match table {
            Some(table) => self
                .tables
                .iter()
                .any(|pattern| glob::matches(pattern, table, Case::Sensitive)),
            None => self.tables.iter().any(|pattern| pattern == "*"),
        };
        action_matches && table_matches
    }
}

fn check_statement(statement: &Statement) -> Result<(), String> {
    for (field, patterns) in [
        ("actions", &statement.actions),
        ("tables", &statement.tables),
    ] {
        if patterns.is_empty() {
            return Err(format!("`{field}` must not be empty (use [\"*\"] for all)"));
        }
        if patterns.len() > STATEMENT_PATTERNS_MAX {
            return Err(format!(
                "`{field}` has at most {STATEMENT_PATTERNS_MAX} patterns, this one has {}",
                patterns.len()
            ));
        }
        for pattern in patterns.iter() {
            if pattern.is_empty() || pattern.len() > PATTERN_LENGTH_BYTES_MAX {
                return Err(format!(
                    "`{field}` pattern {pattern:?} must have 1 to {PATTERN_LENGTH_BYTES_MAX} bytes"
                ));
            }
        }
    }
    for action in &statement.actions {
        let prefixed = action
            .get(..ACTION_PREFIX.len())
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case(ACTION_PREFIX));
        if action != "*" && !prefixed {
            return Err(format!(
                "action {action:?} must be \"*\" or start with \"{ACTION_PREFIX}\", as in \"dynamodb:GetItem\""
            ));
        }
    }
    Ok(())
}

// ANCHOR: access_denied
/// The message of `AccessDeniedException`, in AWS's form:
/// `User: arn:aws:iam::<account>:user/<access key> is not authorized to
/// perform: <action> on resource: arn:aws:dynamodb:<region>:<account>:table/<table>`
/// (`table/*` for an action on no table).
pub fn access_denied_message(
    account_id: &str,
    region: &str,
    access_key_id: &str,
    action: &str,
    table: Option<&str>,
) -> String {
    let table = table.unwrap_or("*");
    format!(
        "User: arn:aws:iam::{account_id}:user/{access_key_id} is not authorized to perform: {action} on resource: arn:aws:dynamodb:{region}:{account_id}:table/{table}"
    )
}
// ANCHOR_END: access_denied

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Policy {
        serde_json::from_str(json).unwrap()
    }

    fn orders_reader() -> Policy {
        parse(
            r#"[
                {"effect": "Allow", "actions": ["dynamodb:Get*", "dynamodb:Query"], "tables": ["orders", "orders-*"]},
                {"effect": "Deny", "actions": ["*"], "tables": ["orders-archive"]},
                {"effect": "Allow", "actions": ["dynamodb:ListTables"], "tables": ["*"]}
            ]"#,
        )
    }

    #[test]
    fn ex05_13_allow_matches_actions_and_tables() {
        let policy = orders_reader();
        assert_eq!(
            policy.authorize("dynamodb:GetItem", Some("orders")),
            Decision::Allow
        );
        assert_eq!(
            policy.authorize("dynamodb:Query", Some("orders-2026")),
            Decision::Allow
        );
        assert_eq!(
            policy.authorize("dynamodb:BatchGetItem", Some("orders")),
            Decision::ImplicitDeny
        );
        assert_eq!(
            policy.authorize("dynamodb:PutItem", Some("orders")),
            Decision::ImplicitDeny
        );
        assert_eq!(
            policy.authorize("dynamodb:GetItem", Some("users")),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn ex05_13_explicit_deny_wins_wherever_it_is() {
        let policy = orders_reader();
        assert_eq!(
            policy.authorize("dynamodb:GetItem", Some("orders-archive")),
            Decision::ExplicitDeny
        );
        let deny_first = parse(
            r#"[
                {"effect": "Deny", "actions": ["dynamodb:DeleteTable"], "tables": ["*"]},
                {"effect": "Allow", "actions": ["*"], "tables": ["*"]}
            ]"#,
        );
        assert_eq!(
            deny_first.authorize("dynamodb:DeleteTable", Some("t")),
            Decision::ExplicitDeny
        );
        assert_eq!(
            deny_first.authorize("dynamodb:PutItem", Some("t")),
            Decision::Allow
        );
        let deny_last = parse(
            r#"[
                {"effect": "Allow", "actions": ["*"], "tables": ["*"]},
                {"effect": "Deny", "actions": ["dynamodb:DeleteTable"], "tables": ["*"]}
            ]"#,
        );
        assert_eq!(
            deny_last.authorize("dynamodb:DeleteTable", Some("t")),
            Decision::ExplicitDeny
        );
    }

    #[test]
    fn ex05_13_actions_on_no_table_need_the_bare_star() {
        let policy = orders_reader();
        assert_eq!(
            policy.authorize("dynamodb:ListTables", None),
            Decision::Allow
        );
        assert_eq!(
            policy.authorize("dynamodb:GetItem", None),
            Decision::ImplicitDeny
        );
        assert_eq!(
            Policy::new(vec![])
                .unwrap()
                .authorize("dynamodb:GetItem", Some("t")),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn action_names_ignore_case() {
        assert_eq!(
            orders_reader().authorize("DynamoDB:getitem", Some("orders")),
            Decision::Allow
        );
    }

    #[test]
    fn bad_policies_are_refused_with_the_reason() {
        let error = |json: &str| {
            serde_json::from_str::<Policy>(json)
                .unwrap_err()
                .to_string()
        };
        assert!(
            error(r#"[{"effect": "allow", "actions": ["*"], "tables": ["*"]}]"#)
                .contains("unknown variant `allow`, expected `Allow` or `Deny`")
        );
        assert!(
            error(r#"[{"effect": "Allow", "actions": [], "tables": ["*"]}]"#)
                .contains("statement 1: `actions` must not be empty")
        );
        assert!(
            error(r#"[{"effect": "Allow", "actions": ["GetItem"], "tables": ["*"]}]"#)
                .contains("action \"GetItem\" must be \"*\" or start with \"dynamodb:\"")
        );
        assert!(
            error(r#"[{"effect": "Allow", "actions": ["*"], "tables": ["*"], "table": "x"}]"#)
                .contains("unknown field `table`")
        );
        assert!(
            error(r#"[{"effect": "Allow", "actions": ["*"], "tables": [""]}]"#)
                .contains("`tables` pattern \"\" must have 1 to 1024 bytes")
        );
    }

    #[test]
    fn access_denied_is_worded_as_aws_words_it() {
        assert_eq!(
            access_denied_message(
                "000000000000",
                "us-east-1",
                "AKID",
                "dynamodb:PutItem",
                Some("orders")
            ),
            "User: arn:aws:iam::000000000000:user/AKID is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:000000000000:table/orders"
        );
        assert_eq!(
            access_denied_message(
                "123456789012",
                "eu-west-1",
                "K",
                "dynamodb:ListTables",
                None
            ),
            "User: arn:aws:iam::123456789012:user/K is not authorized to perform: dynamodb:ListTables on resource: arn:aws:dynamodb:eu-west-1:123456789012:table/*"
        );
    }
}
