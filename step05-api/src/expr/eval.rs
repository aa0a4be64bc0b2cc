//! Evaluating a condition against an item, with DynamoDB's semantics.
//!
//! There is no three-valued logic: an operand that names nothing (a
//! missing attribute, a path through the wrong container type) makes a
//! comparison plain false, as does comparing values of different types,
//! and `NOT` simply negates. The one twist is `<>`, defined as "not `=`",
//! so it is *true* when an operand is missing.
//!
//! Everything that could be decided from the expression alone (literal
//! types, arity) was decided by the parser, so evaluation cannot fail on
//! account of the expression; it only looks at data.

use std::borrow::Cow;
use std::cmp::Ordering;

use step01_kv::number::Number;
use step01_kv::value::{AttributeValue, Item};

use super::ast::{Comparator, Condition, Function, Operand};
use super::error::Result;
use super::path::resolve;

impl Condition {
    /// Whether the condition holds for `item`; `None` (no item) behaves as
    /// an item without attributes.
    pub fn evaluate(&self, item: Option<&Item>) -> Result<bool> {
        let empty = Item::new();
        Ok(holds(self, item.unwrap_or(&empty)))
    }
}

/// The condition's truth for an item. Recursion is bounded by the parser's
/// nesting limit (or, for legacy conditions, by their flat shape).
fn holds(condition: &Condition, item: &Item) -> bool {
    match condition {
        Condition::Compare {
            comparator,
            left,
            right,
        } => compare(
            *comparator,
            value_of(left, item).as_deref(),
            value_of(right, item).as_deref(),
        ),
        Condition::Between { operand, low, high } => {
            let value = value_of(operand, item);
            let low = value_of(low, item);
            let high = value_of(high, item);
            compare(Comparator::Ge, value.as_deref(), low.as_deref())
                && compare(Comparator::Le, value.as_deref(), high.as_deref())
        }
        Condition::In { operand, list } => {
            let value = value_of(operand, item);
            list.iter().any(|entry| {
                compare(
                    Comparator::Eq,
                    value.as_deref(),
                    value_of(entry, item).as_deref(),
                )
            })
        }
        Condition::Function(function) => function_holds(function, item),
        Condition::Not(inner) => !holds(inner, item),
        Condition::And(left, right) => holds(left, item) && holds(right, item),
        Condition::Or(left, right) => holds(left, item) || holds(right, item),
    }
}

/// The value of an operand, if it has one.
fn value_of<'a>(operand: &'a Operand, item: &'a Item) -> Option<Cow<'a, AttributeValue>> {
    match operand {
        Operand::Path(path) => resolve(item, path).map(Cow::Borrowed),
        Operand::Value(literal) => Some(Cow::Borrowed(&literal.value)),
        Operand::Size(inner) => {
            let value = value_of(inner, item)?;
            size_of(&value).map(|size| Cow::Owned(AttributeValue::N(size)))
        }
    }
}

// ANCHOR: compare
/// `left comparator right` with DynamoDB's rules: `=` needs both operands
/// present, of one type, and equal (sets and maps ignore order); `<>` is
/// its negation; the orderings need two strings, two numbers or two
/// binaries. Anything else is false, never an error.
pub fn compare(
    comparator: Comparator,
    left: Option<&AttributeValue>,
    right: Option<&AttributeValue>,
) -> bool {
    // EXERCISE(05.23): compare two optional values; missing operands and mismatched or unorderable types make every comparison false, except <> which is "not ="
    let equal = matches!((left, right), (Some(a), Some(b)) if a == b);
    let ordering = match (left, right) {
        (Some(a), Some(b)) => order(a, b),
        _ => None,
    };
    match comparator {
        Comparator::Eq => equal,
        Comparator::Ne => !equal,
        Comparator::Lt => ordering == Some(Ordering::Less),
        Comparator::Le => matches!(ordering, Some(Ordering::Less | Ordering::Equal)),
        Comparator::Gt => ordering == Some(Ordering::Greater),
        Comparator::Ge => matches!(ordering, Some(Ordering::Greater | Ordering::Equal)),
    }
    // END EXERCISE
}
// ANCHOR_END: compare

/// The order of two values of one orderable type: numbers numerically,
/// strings by their UTF-8 bytes, binaries by unsigned bytes. `None` for
/// any other pair.
pub fn order(left: &AttributeValue, right: &AttributeValue) -> Option<Ordering> {
    match (left, right) {
        (AttributeValue::N(a), AttributeValue::N(b)) => Some(a.cmp(b)),
        (AttributeValue::S(a), AttributeValue::S(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        (AttributeValue::B(a), AttributeValue::B(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

// ANCHOR: size
/// What `size()` returns: the length of a string (UTF-8 bytes) or binary,
/// the number of members of a set, elements of a list or entries of a map.
/// Numbers, booleans and nulls have no size.
pub fn size_of(value: &AttributeValue) -> Option<Number> {
    // EXERCISE(05.22): return the size of S (UTF-8 bytes), B, sets, L and M as a Number; None for N, BOOL and NULL
    let count = match value {
        AttributeValue::S(text) => text.len(),
        AttributeValue::B(bytes) => bytes.len(),
        AttributeValue::Ss(set) => set.len(),
        AttributeValue::Ns(set) => set.len(),
        AttributeValue::Bs(set) => set.len(),
        AttributeValue::L(list) => list.len(),
        AttributeValue::M(map) => map.len(),
        AttributeValue::N(_) | AttributeValue::Bool(_) | AttributeValue::Null => return None,
    };
    Some(Number::from(u64::try_from(count).unwrap_or(u64::MAX)))
    // END EXERCISE
}
// ANCHOR_END: size

fn function_holds(function: &Function, item: &Item) -> bool {
    match function {
        Function::AttributeExists(path) => resolve(item, path).is_some(),
        Function::AttributeNotExists(path) => resolve(item, path).is_none(),
        Function::AttributeType(path, literal) => match (resolve(item, path), &literal.value) {
            (Some(value), AttributeValue::S(name)) => value.type_name() == name,
            _ => false,
        },
        Function::BeginsWith(subject, prefix) => {
            match (value_of(subject, item), value_of(prefix, item)) {
                (Some(subject), Some(prefix)) => begins_with(&subject, &prefix),
                _ => false,
            }
        }
        Function::Contains(subject, needle) => {
            match (value_of(subject, item), value_of(needle, item)) {
                (Some(subject), Some(needle)) => contains(&subject, &needle),
                _ => false,
            }
        }
    }
}

/// A string starts with a string, or a binary with a binary.
pub fn begins_with(subject: &AttributeValue, prefix: &AttributeValue) -> bool {
    match (subject, prefix) {
        (AttributeValue::S(s), AttributeValue::S(p)) => s.starts_with(p.as_str()),
        (AttributeValue::B(s), AttributeValue::B(p)) => s.starts_with(p),
        _ => false,
    }
}

/// A substring, a contiguous byte sequence, a set member of the set's
/// element type, or a list element equal to the needle.
pub fn contains(subject: &AttributeValue, needle: &AttributeValue) -> bool {
    match (subject, needle) {
        (AttributeValue::S(s), AttributeValue::S(n)) => s.contains(n.as_str()),
        (AttributeValue::B(s), AttributeValue::B(n)) => {
            n.is_empty() || s.windows(n.len()).any(|window| window == n.as_slice())
        }
        (AttributeValue::Ss(set), AttributeValue::S(n)) => set.contains(n),
        (AttributeValue::Ns(set), AttributeValue::N(n)) => set.contains(n),
        (AttributeValue::Bs(set), AttributeValue::B(n)) => set.contains(n),
        (AttributeValue::L(list), needle) => list.contains(needle),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn n(text: &str) -> AttributeValue {
        AttributeValue::N(text.parse().unwrap())
    }

    fn s(text: &str) -> AttributeValue {
        AttributeValue::S(text.to_string())
    }

    #[test]
    fn ex05_23_different_types_are_never_equal_or_ordered() {
        let pairs = [
            (s("3"), n("3")),
            (
                n("1"),
                AttributeValue::Ns(BTreeSet::from(["1".parse().unwrap()])),
            ),
            (AttributeValue::B(b"a".to_vec()), s("a")),
            (AttributeValue::Bool(true), AttributeValue::Null),
        ];
        for (a, b) in &pairs {
            for comparator in [
                Comparator::Eq,
                Comparator::Lt,
                Comparator::Le,
                Comparator::Gt,
                Comparator::Ge,
            ] {
                assert!(
                    !compare(comparator, Some(a), Some(b)),
                    "{a:?} {comparator:?} {b:?}"
                );
            }
            assert!(compare(Comparator::Ne, Some(a), Some(b)));
        }
    }

    #[test]
    fn ex05_23_missing_operands_are_false_except_for_not_equal() {
        let one = n("1");
        for comparator in [Comparator::Eq, Comparator::Lt, Comparator::Ge] {
            assert!(!compare(comparator, None, Some(&one)));
            assert!(!compare(comparator, Some(&one), None));
            assert!(!compare(comparator, None, None));
        }
        assert!(compare(Comparator::Ne, None, Some(&one)));
        assert!(compare(Comparator::Ne, None, None));
    }

    #[test]
    fn ex05_23_orders_numbers_numerically_and_strings_by_bytes() {
        assert!(compare(Comparator::Lt, Some(&n("9")), Some(&n("10"))));
        assert!(compare(Comparator::Eq, Some(&n("1e3")), Some(&n("1000"))));
        assert!(compare(Comparator::Le, Some(&n("-0.5")), Some(&n("-0.5"))));
        assert!(compare(Comparator::Lt, Some(&s("A")), Some(&s("a"))));
        assert!(compare(Comparator::Gt, Some(&s("¿")), Some(&s("z"))));
        assert!(compare(
            Comparator::Gt,
            Some(&AttributeValue::B(vec![0x80])),
            Some(&AttributeValue::B(vec![0x7f]))
        ));
        // Booleans are equal or not, but never ordered.
        let t = AttributeValue::Bool(true);
        assert!(compare(Comparator::Eq, Some(&t), Some(&t)));
        assert!(!compare(Comparator::Ge, Some(&t), Some(&t)));
    }

    #[test]
    fn ex05_22_size_counts_bytes_members_and_entries() {
        let json = serde_json::json!({
            "s": {"S": "héllo"},
            "b": {"B": "AAEC"},
            "ss": {"SS": ["a", "b"]},
            "l": {"L": [{"N": "1"}, {"NULL": true}, {"S": "x"}]},
            "m": {"M": {"k": {"N": "1"}}},
            "e": {"L": []},
        });
        let item = step01_kv::value::item_from_json(json).unwrap();
        let table = [("s", 6), ("b", 3), ("ss", 2), ("l", 3), ("m", 1), ("e", 0)];
        for (name, expected) in table {
            assert_eq!(
                size_of(&item[name]),
                Some(Number::from(expected as u64)),
                "{name}"
            );
        }
    }

    #[test]
    fn ex05_22_numbers_booleans_and_nulls_have_no_size() {
        for value in [n("12345"), AttributeValue::Bool(true), AttributeValue::Null] {
            assert_eq!(size_of(&value), None, "{value:?}");
        }
    }

    #[test]
    fn contains_and_begins_with_follow_the_operand_types() {
        let ss = AttributeValue::Ss(BTreeSet::from(["ab".to_string()]));
        assert!(contains(&s("xaby"), &s("ab")));
        assert!(contains(&ss, &s("ab")));
        assert!(!contains(&ss, &s("a")));
        assert!(contains(
            &AttributeValue::L(vec![n("1"), s("x")]),
            &n("1.0")
        ));
        assert!(contains(
            &AttributeValue::B(vec![1, 2, 3]),
            &AttributeValue::B(vec![2, 3])
        ));
        assert!(!contains(&n("12"), &n("1")));
        assert!(begins_with(&s("hello"), &s("he")));
        assert!(!begins_with(
            &s("hello"),
            &AttributeValue::B(b"he".to_vec())
        ));
        assert!(begins_with(
            &AttributeValue::B(vec![1, 2]),
            &AttributeValue::B(vec![1])
        ));
    }
}
