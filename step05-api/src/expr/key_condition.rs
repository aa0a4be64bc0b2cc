//! KeyConditionExpression: the restricted condition a Query starts from.
//!
//! It parses with the condition grammar (so syntax errors, reserved words
//! and placeholders behave exactly as elsewhere), then the tree is checked
//! against the table's key schema and turned into what step 3's Query
//! needs: the partition key value and a [`SortCondition`].
//!
//! Allowed: `pk = :v`, optionally `AND` one of `sk = | < | <= | > | >= :v`,
//! `sk BETWEEN :a AND :b`, `begins_with(sk, :p)`, in either order, with
//! comparisons written either way round (`:v = pk`).

use step01_kv::key::{KeySchema, KeyType, KeyValue};
use step01_kv::value::AttributeValue;
use step03_partitioning::layout::SortCondition;

use super::ast::{Comparator, Condition, Function, Operand, Path, PathElement};
use super::error::{ExprError, Result};
use super::names::{ExpressionContext, ExpressionKind};
use super::parser::Parser;

/// A Query's key condition, ready for step 3.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyCondition {
    pub partition: KeyValue,
    pub sort: SortCondition,
}

impl ExpressionContext {
    /// Parses a KeyConditionExpression and checks it against `schema`.
    pub fn parse_key_condition(&mut self, text: &str, schema: &KeySchema) -> Result<KeyCondition> {
        let mut parser = Parser::new(text, ExpressionKind::KeyCondition, self)?;
        let condition = parser.parse_condition()?;
        parser.finish()?;
        key_condition(&condition, schema)
    }
}

/// One predicate of a key condition, normalised to "key op values".
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct KeyPredicate {
    pub name: String,
    pub operator: KeyOperator,
    pub values: Vec<AttributeValue>,
}

/// The operators a key predicate can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyOperator {
    Compare(Comparator),
    Between,
    BeginsWith,
}

fn invalid(message: &str) -> ExprError {
    ExprError::validation(message)
}

/// Checks a parsed condition against the schema.
pub fn key_condition(condition: &Condition, schema: &KeySchema) -> Result<KeyCondition> {
    let mut predicates = Vec::new();
    flatten(condition, &mut predicates)?;
    let predicates = predicates
        .into_iter()
        .map(predicate)
        .collect::<Result<Vec<_>>>()?;
    resolve_key(predicates, schema)
}

/// The `AND`ed predicates; any other connective is refused.
fn flatten<'a>(condition: &'a Condition, out: &mut Vec<&'a Condition>) -> Result<()> {
    match condition {
        Condition::And(left, right) => {
            flatten(left, out)?;
            flatten(right, out)
        }
        Condition::Or(..) => Err(invalid(
            "Invalid operator used in KeyConditionExpression: OR",
        )),
        Condition::Not(..) => Err(invalid(
            "Invalid operator used in KeyConditionExpression: NOT",
        )),
        Condition::In { .. } => Err(invalid(
            "Invalid operator used in KeyConditionExpression: IN",
        )),
        Condition::Compare {
            comparator: Comparator::Ne,
            ..
        } => Err(invalid(
            "Invalid operator used in KeyConditionExpression: <>",
        )),
        Condition::Function(Function::AttributeExists(_)) => Err(invalid(
            "Invalid operator used in KeyConditionExpression: attribute_exists",
        )),
        Condition::Function(Function::AttributeNotExists(_)) => Err(invalid(
            "Invalid operator used in KeyConditionExpression: attribute_not_exists",
        )),
        Condition::Function(Function::AttributeType(..)) => Err(invalid(
            "Invalid operator used in KeyConditionExpression: attribute_type",
        )),
        Condition::Function(Function::Contains(..)) => Err(invalid(
            "Invalid operator used in KeyConditionExpression: contains",
        )),
        other => {
            out.push(other);
            Ok(())
        }
    }
}

/// A key attribute name from an operand, `None` for a value.
fn key_name(operand: &Operand) -> Result<Option<&str>> {
    match operand {
        Operand::Size(_) => Err(invalid(
            "KeyConditionExpressions cannot contain nested operations",
        )),
        Operand::Value(_) => Ok(None),
        Operand::Path(Path { elements }) => match elements.as_slice() {
            [PathElement::Attribute { name, .. }] => Ok(Some(name)),
            _ => Err(invalid(
                "KeyConditionExpressions cannot have conditions on nested attributes",
            )),
        },
    }
}

fn literal(operand: &Operand) -> Option<AttributeValue> {
    match operand {
        Operand::Value(literal) => Some(literal.value.clone()),
        _ => None,
    }
}

/// One predicate as "key op values".
fn predicate(condition: &Condition) -> Result<KeyPredicate> {
    let (operator, operands): (KeyOperator, Vec<&Operand>) = match condition {
        Condition::Compare {
            comparator,
            left,
            right,
        } => (KeyOperator::Compare(*comparator), vec![left, right]),
        Condition::Between { operand, low, high } => {
            (KeyOperator::Between, vec![operand, low, high])
        }
        Condition::Function(Function::BeginsWith(a, b)) => (KeyOperator::BeginsWith, vec![a, b]),
        _ => return Err(invalid("Query key condition not supported")),
    };
    let mut names = Vec::new();
    for (position, operand) in operands.iter().enumerate() {
        if let Some(name) = key_name(operand)? {
            names.push((position, name));
        }
    }
    let (position, name) = match names.as_slice() {
        [] => {
            return Err(invalid(
                "Invalid condition in KeyConditionExpression: No key attribute specified",
            ));
        }
        [one] => *one,
        _ => {
            return Err(invalid(
                "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition",
            ));
        }
    };
    let operator = match operator {
        KeyOperator::Compare(comparator) if position == 1 => {
            KeyOperator::Compare(comparator.flipped())
        }
        KeyOperator::Between | KeyOperator::BeginsWith if position != 0 => {
            let word = if operator == KeyOperator::Between {
                "BETWEEN"
            } else {
                "begins_with"
            };
            return Err(invalid(&format!(
                "Invalid condition in KeyConditionExpression: {word} operator must have the key attribute as its first operand"
            )));
        }
        other => other,
    };
    let values = operands
        .iter()
        .enumerate()
        .filter(|(index, _)| *index != position)
        .filter_map(|(_, operand)| literal(operand))
        .collect();
    Ok(KeyPredicate {
        name: name.to_string(),
        operator,
        values,
    })
}

// ANCHOR: resolve_key
/// Matches the predicates to the schema's key attributes.
pub(crate) fn resolve_key(
    predicates: Vec<KeyPredicate>,
    schema: &KeySchema,
) -> Result<KeyCondition> {
    for (index, predicate) in predicates.iter().enumerate() {
        if predicates[..index].iter().any(|p| p.name == predicate.name) {
            return Err(invalid(
                "KeyConditionExpressions must only contain one condition per key",
            ));
        }
    }
    let partition_name = &schema.partition.name;
    let Some(partition) = predicates.iter().find(|p| &p.name == partition_name) else {
        return Err(invalid(&format!(
            "Query condition missed key schema element: {partition_name}"
        )));
    };
    if partition.operator != KeyOperator::Compare(Comparator::Eq) {
        return Err(invalid("Query key condition not supported"));
    }
    let partition_value = key_value(&partition.values, schema.partition.key_type, 0)?;
    let others: Vec<&KeyPredicate> = predicates
        .iter()
        .filter(|p| &p.name != partition_name)
        .collect();
    let sort = match (others.as_slice(), &schema.sort) {
        ([], _) => SortCondition::All,
        ([_], None) => return Err(invalid("Query key condition not supported")),
        ([other], Some(sort)) if other.name != sort.name => {
            return Err(invalid(&format!(
                "Query condition missed key schema element: {}",
                sort.name
            )));
        }
        ([other], Some(sort)) => sort_condition(other, sort.key_type)?,
        _ => return Err(invalid("Query key condition not supported")),
    };
    Ok(KeyCondition {
        partition: partition_value,
        sort,
    })
}
// ANCHOR_END: resolve_key

/// The value at `index` as a key value of the schema's type.
fn key_value(values: &[AttributeValue], key_type: KeyType, index: usize) -> Result<KeyValue> {
    let mismatch = || {
        invalid(
            "One or more parameter values were invalid: Condition parameter type does not match schema type",
        )
    };
    let value = values.get(index).cloned().ok_or_else(mismatch)?;
    let key = KeyValue::try_from(value).map_err(|_| mismatch())?;
    if key.key_type() != key_type {
        return Err(mismatch());
    }
    Ok(key)
}

fn sort_condition(predicate: &KeyPredicate, key_type: KeyType) -> Result<SortCondition> {
    let value = |index| key_value(&predicate.values, key_type, index);
    Ok(match predicate.operator {
        KeyOperator::Compare(Comparator::Eq) => SortCondition::Eq(value(0)?),
        KeyOperator::Compare(Comparator::Lt) => SortCondition::Lt(value(0)?),
        KeyOperator::Compare(Comparator::Le) => SortCondition::Le(value(0)?),
        KeyOperator::Compare(Comparator::Gt) => SortCondition::Gt(value(0)?),
        KeyOperator::Compare(Comparator::Ge) => SortCondition::Ge(value(0)?),
        KeyOperator::Compare(Comparator::Ne) => {
            return Err(invalid(
                "Invalid operator used in KeyConditionExpression: <>",
            ));
        }
        KeyOperator::Between => SortCondition::Between(value(0)?, value(1)?),
        KeyOperator::BeginsWith => {
            let prefix = value(0)?;
            if key_type == KeyType::N {
                return Err(ExpressionKind::KeyCondition.error(
                    "Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
                ));
            }
            SortCondition::BeginsWith(prefix)
        }
    })
}
