//! The pre-2014 parameters, translated onto the expression trees so that
//! one evaluator and one update engine serve both.
//!
//! | legacy | becomes |
//! |---|---|
//! | `Expected` (+ `ConditionalOperator`) | a [`Condition`] |
//! | `QueryFilter` / `ScanFilter` (+ `ConditionalOperator`) | a [`Condition`] |
//! | `KeyConditions` | a [`KeyCondition`] |
//! | `AttributesToGet` | projection [`Path`]s |
//! | `AttributeUpdates` | an [`Update`] |
//!
//! Values have no placeholders here; the translation invents `:0`, `:1`,
//! … so the trees still print. Attribute names are used literally: the
//! legacy parameters have no reserved words.
//!
//! # Refusals whose wording is ours
//!
//! DynamoDB refuses these, and the reference records no exact text, so
//! the messages below are the likeliest wording, in the style of the
//! messages it does record:
//!
//! * an empty `Expected`: `One or more parameter values were invalid:
//!   Expected must not be empty` (as `ExpressionAttributeNames must not be
//!   empty`);
//! * `ConditionalOperator` without `Expected` (or with an empty one):
//!   `One or more parameter values were invalid: ConditionalOperator can
//!   only be used when Expected is present`;
//! * a legacy `BETWEEN` whose lower bound is above its upper bound: `The
//!   BETWEEN condition was provided a range where the lower bound is
//!   greater than the upper bound`.

use serde_json::{Map, Value as Json};
use step01_kv::error::JsonType;
use step01_kv::key::KeySchema;
use step01_kv::value::AttributeValue;

use super::ast::{
    Comparator, Condition, Function, Literal, Operand, Path, SetAction, SetValue, Term, Update,
    ValueAction,
};
use super::error::{ExprError, Result};
use super::key_condition::{KeyCondition, KeyOperator, KeyPredicate, resolve_key};
use super::names::{check_attribute_name, wrong_json_type};

const INVALID: &str = "One or more parameter values were invalid:";

/// The comparison operators, in the order DynamoDB lists them in its
/// enum error.
const OPERATORS: [&str; 13] = [
    "IN",
    "NULL",
    "BETWEEN",
    "LT",
    "NOT_CONTAINS",
    "EQ",
    "GT",
    "NOT_NULL",
    "NE",
    "LE",
    "BEGINS_WITH",
    "GE",
    "CONTAINS",
];

/// Refuses a request that mixes the two generations of parameters; the
/// arguments are the names of the parameters present.
pub fn check_mixing(non_expression: &[&str], expression: &[&str]) -> Result<()> {
    if non_expression.is_empty() || expression.is_empty() {
        return Ok(());
    }
    Err(ExprError::validation(format!(
        "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {{{}}} Expression parameters: {{{}}}",
        non_expression.join(", "),
        expression.join(", ")
    )))
}

/// Invents placeholders for legacy values.
#[derive(Debug, Default)]
struct Literals {
    next: usize,
}

impl Literals {
    fn literal(&mut self, value: AttributeValue) -> Literal {
        let placeholder = format!(":{}", self.next);
        self.next += 1;
        Literal { placeholder, value }
    }
}

/// A coral-style constraint error: `1 validation error detected: …`.
fn constraint(value: &str, at: &str, rule: &str) -> ExprError {
    ExprError::validation(format!(
        "1 validation error detected: Value {value} at '{at}' failed to satisfy constraint: {rule}"
    ))
}

fn object(json: &Json) -> Result<&Map<String, Json>> {
    json.as_object()
        .ok_or_else(|| wrong_json_type(json, JsonType::Map))
}

fn string(json: &Json) -> Result<&str> {
    json.as_str()
        .ok_or_else(|| wrong_json_type(json, JsonType::String))
}

fn attribute_value(json: &Json) -> Result<AttributeValue> {
    Ok(AttributeValue::from_json(json.clone())?)
}

/// `AND` (the default) or `OR`, folding conditions in order.
fn combine(
    conditions: Vec<Condition>,
    conditional_operator: Option<&Json>,
) -> Result<Option<Condition>> {
    let or = match conditional_operator.filter(|json| !json.is_null()) {
        None => false,
        Some(json) => match string(json)? {
            "AND" => false,
            "OR" => true,
            other => {
                return Err(constraint(
                    &format!("'{other}'"),
                    "conditionalOperator",
                    "Member must satisfy enum value set: [AND, OR]",
                ));
            }
        },
    };
    Ok(conditions.into_iter().reduce(|left, right| {
        if or {
            Condition::Or(Box::new(left), Box::new(right))
        } else {
            Condition::And(Box::new(left), Box::new(right))
        }
    }))
}

/// A `ComparisonOperator` + `AttributeValueList`, checked.
struct Comparison {
    operator: &'static str,
    values: Vec<AttributeValue>,
}

/// Reads and checks one `{ComparisonOperator, AttributeValueList}`.
/// `at` is the member path for constraint errors (`queryFilter.a`).
fn comparison(
    operator: Option<&Json>,
    list: Option<&Json>,
    single: Option<&Json>,
    at: &str,
) -> Result<Comparison> {
    let at = format!("{at}.member.comparisonOperator");
    let Some(operator) = operator.filter(|json| !json.is_null()) else {
        return Err(constraint("null", &at, "Member must not be null"));
    };
    let name = string(operator)?;
    let Some(operator) = OPERATORS.iter().copied().find(|op| *op == name) else {
        return Err(constraint(
            &format!("'{name}'"),
            &at,
            &format!(
                "Member must satisfy enum value set: [{}]",
                OPERATORS.join(", ")
            ),
        ));
    };
    let mut values = Vec::new();
    if let Some(list) = list.filter(|json| !json.is_null()) {
        let items = list
            .as_array()
            .ok_or_else(|| wrong_json_type(list, JsonType::List))?;
        for item in items {
            values.push(attribute_value(item)?);
        }
    } else if let Some(single) = single.filter(|json| !json.is_null()) {
        values.push(attribute_value(single)?);
    }
    check_arguments(operator, &values)?;
    Ok(Comparison { operator, values })
}

// ANCHOR: legacy_arguments
/// The argument-count and type rules of each comparison operator.
fn check_arguments(operator: &str, values: &[AttributeValue]) -> Result<()> {
    let count_ok = match operator {
        "NULL" | "NOT_NULL" => values.is_empty(),
        "IN" => !values.is_empty(),
        "BETWEEN" => values.len() == 2,
        _ => values.len() == 1,
    };
    if !count_ok {
        return Err(ExprError::validation(format!(
            "{INVALID} Invalid number of argument(s) for the {operator} ComparisonOperator"
        )));
    }
    let scalar = |value: &AttributeValue| {
        matches!(
            value,
            AttributeValue::S(_) | AttributeValue::N(_) | AttributeValue::B(_)
        )
    };
    for value in values {
        let allowed = match operator {
            "EQ" | "NE" => true,
            "BEGINS_WITH" => matches!(value, AttributeValue::S(_) | AttributeValue::B(_)),
            _ => scalar(value),
        };
        if !allowed {
            return Err(ExprError::validation(format!(
                "{INVALID} ComparisonOperator {operator} is not valid for {} AttributeValue type",
                value.type_name()
            )));
        }
    }
    if values
        .windows(2)
        .any(|pair| pair[0].type_name() != pair[1].type_name())
    {
        return Err(ExprError::validation(format!(
            "{INVALID} AttributeValues inside AttributeValueList must be of same type"
        )));
    }
    if let ("BETWEEN", [low, high]) = (operator, values)
        && super::eval::order(low, high) == Some(std::cmp::Ordering::Greater)
    {
        return Err(ExprError::validation(
            "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound",
        ));
    }
    Ok(())
}
// ANCHOR_END: legacy_arguments

/// The condition a legacy comparison on attribute `name` stands for.
fn to_condition(name: &str, comparison: Comparison, literals: &mut Literals) -> Condition {
    let path = Path::attribute(name);
    let subject = Operand::Path(path.clone());
    let mut operands: Vec<Operand> = comparison
        .values
        .into_iter()
        .map(|value| Operand::Value(literals.literal(value)))
        .collect();
    let compare = |comparator, right: Option<Operand>| Condition::Compare {
        comparator,
        left: subject.clone(),
        right: right.unwrap_or(Operand::Value(Literal {
            placeholder: String::new(),
            value: AttributeValue::Null,
        })),
    };
    let first = operands.first().cloned();
    match comparison.operator {
        "EQ" => compare(Comparator::Eq, first),
        "NE" => compare(Comparator::Ne, first),
        "LT" => compare(Comparator::Lt, first),
        "LE" => compare(Comparator::Le, first),
        "GT" => compare(Comparator::Gt, first),
        "GE" => compare(Comparator::Ge, first),
        "NULL" => Condition::Function(Function::AttributeNotExists(path)),
        "NOT_NULL" => Condition::Function(Function::AttributeExists(path)),
        "IN" => Condition::In {
            operand: subject,
            list: operands,
        },
        "BETWEEN" => {
            let high = operands.pop();
            let low = operands.pop();
            match (low, high) {
                (Some(low), Some(high)) => Condition::Between {
                    operand: subject,
                    low,
                    high,
                },
                _ => compare(Comparator::Eq, None),
            }
        }
        "BEGINS_WITH" | "CONTAINS" | "NOT_CONTAINS" => {
            let Some(needle) = first else {
                return compare(Comparator::Eq, None);
            };
            match comparison.operator {
                "BEGINS_WITH" => Condition::Function(Function::BeginsWith(subject, needle)),
                "CONTAINS" => Condition::Function(Function::Contains(subject, needle)),
                _ => Condition::Not(Box::new(Condition::Function(Function::Contains(
                    subject, needle,
                )))),
            }
        }
        _ => compare(Comparator::Eq, None),
    }
}

/// `ConditionalOperator` combines the entries of `Expected`, so it may
/// not come without a non-empty one.
pub fn check_conditional_operator(
    expected: Option<&Json>,
    conditional_operator: Option<&Json>,
) -> Result<()> {
    let has_entries = expected
        .and_then(Json::as_object)
        .is_some_and(|map| !map.is_empty());
    if conditional_operator.is_some_and(|json| !json.is_null()) && !has_entries {
        return Err(ExprError::validation(format!(
            "{INVALID} ConditionalOperator can only be used when Expected is present"
        )));
    }
    Ok(())
}

/// `Expected` (with `ConditionalOperator`), which must have an entry.
pub fn expected(expected: &Json, conditional_operator: Option<&Json>) -> Result<Option<Condition>> {
    let mut literals = Literals::default();
    let mut conditions = Vec::new();
    let entries = object(expected)?;
    if entries.is_empty() {
        return Err(ExprError::validation(format!(
            "{INVALID} Expected must not be empty"
        )));
    }
    for (name, entry) in entries {
        check_attribute_name(name)?;
        let entry = object(entry)?;
        let get = |key: &str| entry.get(key).filter(|json| !json.is_null());
        let (value, exists) = (get("Value"), get("Exists"));
        let (operator, list) = (get("ComparisonOperator"), get("AttributeValueList"));
        let refuse = |what: &str| {
            Err(ExprError::validation(format!(
                "{INVALID} {what} for Attribute: {name}"
            )))
        };
        if value.is_some() && list.is_some() {
            return refuse("Value and AttributeValueList cannot be used together");
        }
        if exists.is_some() && operator.is_some() {
            return refuse("Exists and ComparisonOperator cannot be used together");
        }
        if list.is_some() && operator.is_none() {
            return refuse("AttributeValueList can only be used with a ComparisonOperator");
        }
        if operator.is_some() {
            let at = format!("expected.{name}");
            let comparison = comparison(operator, list, value, &at)?;
            conditions.push(to_condition(name, comparison, &mut literals));
            continue;
        }
        let exists = match exists {
            None => true,
            Some(json) => json
                .as_bool()
                .ok_or_else(|| wrong_json_type(json, JsonType::True))?,
        };
        match (exists, value) {
            (true, None) => return refuse("Value must be provided when Exists is true"),
            (false, Some(_)) => return refuse("Value cannot be used when Exists is false"),
            (true, Some(json)) => conditions.push(Condition::Compare {
                comparator: Comparator::Eq,
                left: Operand::Path(Path::attribute(name)),
                right: Operand::Value(literals.literal(attribute_value(json)?)),
            }),
            (false, None) => conditions.push(Condition::Function(Function::AttributeNotExists(
                Path::attribute(name),
            ))),
        }
    }
    combine(conditions, conditional_operator)
}

/// `QueryFilter` or `ScanFilter` (`parameter` names it) with
/// `ConditionalOperator`: `None` when it is empty.
pub fn filter(
    filter: &Json,
    conditional_operator: Option<&Json>,
    parameter: &str,
) -> Result<Option<Condition>> {
    let mut literals = Literals::default();
    let mut conditions = Vec::new();
    for (name, entry) in object(filter)? {
        check_attribute_name(name)?;
        let entry = object(entry)?;
        let at = format!("{}.{name}", lower_camel(parameter));
        let comparison = comparison(
            entry.get("ComparisonOperator"),
            entry.get("AttributeValueList"),
            None,
            &at,
        )?;
        conditions.push(to_condition(name, comparison, &mut literals));
    }
    combine(conditions, conditional_operator)
}

/// `QueryFilter` → `queryFilter`, as coral names members.
fn lower_camel(parameter: &str) -> String {
    let mut chars = parameter.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_ascii_lowercase().to_string() + chars.as_str()
    })
}

/// `KeyConditions`, checked against the key schema.
pub fn key_conditions(conditions: &Json, schema: &KeySchema) -> Result<KeyCondition> {
    let mut predicates = Vec::new();
    for (name, entry) in object(conditions)? {
        let entry = object(entry)?;
        let at = format!("keyConditions.{name}");
        let comparison = comparison(
            entry.get("ComparisonOperator"),
            entry.get("AttributeValueList"),
            None,
            &at,
        )?;
        let operator = match comparison.operator {
            "EQ" => KeyOperator::Compare(Comparator::Eq),
            "LT" => KeyOperator::Compare(Comparator::Lt),
            "LE" => KeyOperator::Compare(Comparator::Le),
            "GT" => KeyOperator::Compare(Comparator::Gt),
            "GE" => KeyOperator::Compare(Comparator::Ge),
            "BETWEEN" => KeyOperator::Between,
            "BEGINS_WITH" => KeyOperator::BeginsWith,
            _ => {
                return Err(ExprError::validation(
                    "Attempted conditional constraint is not an indexable operation",
                ));
            }
        };
        predicates.push(KeyPredicate {
            name: name.clone(),
            operator,
            values: comparison.values,
        });
    }
    resolve_key(predicates, schema)
}

/// `AttributesToGet`: top-level names, at least one, no duplicates.
pub fn attributes_to_get(names: &Json) -> Result<Vec<Path>> {
    let list = names
        .as_array()
        .ok_or_else(|| wrong_json_type(names, JsonType::List))?;
    if list.is_empty() {
        return Err(constraint(
            "'[]'",
            "attributesToGet",
            "Member must have length greater than or equal to 1",
        ));
    }
    let mut seen: Vec<&str> = Vec::new();
    for name in list {
        let name = string(name)?;
        check_attribute_name(name)?;
        if seen.contains(&name) {
            return Err(ExprError::validation(format!(
                "{INVALID} Duplicate value in attribute name: {name}"
            )));
        }
        seen.push(name);
    }
    Ok(seen.into_iter().map(Path::attribute).collect())
}

// ANCHOR: attribute_updates
/// `AttributeUpdates`: `PUT` (the default) sets, `DELETE` removes (or,
/// with a set, subtracts), `ADD` adds numbers, unites sets and, unlike
/// the expression `ADD`, appends lists.
pub fn attribute_updates(updates: &Json) -> Result<Update> {
    let mut literals = Literals::default();
    let mut update = Update::default();
    for (name, entry) in object(updates)? {
        check_attribute_name(name)?;
        let entry = object(entry)?;
        let get = |key: &str| entry.get(key).filter(|json| !json.is_null());
        let action = match get("Action") {
            None => "PUT",
            Some(json) => string(json)?,
        };
        if !["PUT", "ADD", "DELETE"].contains(&action) {
            return Err(constraint(
                &format!("'{action}'"),
                &format!("attributeUpdates.{name}.member.action"),
                "Member must satisfy enum value set: [ADD, PUT, DELETE]",
            ));
        }
        let path = Path::attribute(name);
        let Some(json) = get("Value") else {
            if action != "DELETE" {
                return Err(ExprError::validation(format!(
                    "{INVALID} Only DELETE action is allowed when no attribute value is specified"
                )));
            }
            update.remove.push(path);
            continue;
        };
        let value = attribute_value(json)?;
        let is_set = matches!(
            value,
            AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_)
        );
        match action {
            "PUT" => update.set.push(SetAction {
                path,
                value: SetValue::Term(Term::Value(literals.literal(value))),
            }),
            "DELETE" if is_set => update.delete.push(ValueAction {
                path,
                value: literals.literal(value),
            }),
            "ADD" if is_set || matches!(value, AttributeValue::N(_)) => {
                update.add.push(ValueAction {
                    path,
                    value: literals.literal(value),
                });
            }
            "ADD" if matches!(value, AttributeValue::L(_)) => {
                let empty = literals.literal(AttributeValue::L(Vec::new()));
                let existing = Term::IfNotExists(path.clone(), Box::new(Term::Value(empty)));
                let appended = Term::Value(literals.literal(value));
                update.set.push(SetAction {
                    path,
                    value: SetValue::Term(Term::ListAppend(Box::new(existing), Box::new(appended))),
                });
            }
            _ => {
                return Err(ExprError::validation(format!(
                    "{INVALID} {action} action with value is not supported for the type {}",
                    value.type_name()
                )));
            }
        }
    }
    Ok(update)
}
// ANCHOR_END: attribute_updates
