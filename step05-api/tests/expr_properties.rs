//! Property tests of the expression languages: printing is parsing's
//! inverse, the evaluator agrees with an obviously-correct reference, and
//! no input makes any parser panic.

// Helpers outside #[test] functions unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use serde_json::{Value, json};
use step01_kv::key::{KeyAttribute, KeySchema, KeyType};
use step01_kv::value::{AttributeValue, Item, item_from_json};
use step05_api::expr::{
    Comparator, Condition, ExpressionContext, ExpressionKind, Function, Literal, Operand, Path,
    PathElement, SetAction, SetValue, Term, Update, ValueAction, legacy,
};

const NAMES: [(&str, &str); 3] = [("#a", "first-name"), ("#b", "status"), ("#c", "a.b")];

fn context() -> ExpressionContext {
    let names: serde_json::Map<String, Value> = NAMES
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    ExpressionContext::new(Some(&Value::Object(names)), Some(&values_json())).unwrap()
}

/// Values: `:s0..:s3` strings in increasing order, `:n0..:n3` numbers,
/// `:t` the type name "N", `:ns` a number set.
fn values_json() -> Value {
    json!({
        ":s0": {"S": "a"}, ":s1": {"S": "b"}, ":s2": {"S": "bc"}, ":s3": {"S": "c"},
        ":n0": {"N": "-1"}, ":n1": {"N": "0"}, ":n2": {"N": "2.5"}, ":n3": {"N": "10"},
        ":t": {"S": "N"}, ":ns": {"NS": ["1"]},
    })
}

fn literal(placeholder: &str) -> Literal {
    let value = AttributeValue::from_json(values_json()[placeholder].clone()).unwrap();
    Literal {
        placeholder: placeholder.to_string(),
        value,
    }
}

fn element_name() -> impl Strategy<Value = PathElement> {
    prop_oneof![
        prop::sample::select(vec!["x", "y", "z_1", "Q"]).prop_map(|name| PathElement::Attribute {
            name: name.to_string(),
            placeholder: None,
        }),
        prop::sample::select(NAMES.to_vec()).prop_map(|(placeholder, name)| {
            PathElement::Attribute {
                name: name.to_string(),
                placeholder: Some(placeholder.to_string()),
            }
        }),
    ]
}

fn path() -> impl Strategy<Value = Path> {
    (
        element_name(),
        prop::collection::vec(
            prop_oneof![element_name(), (0u32..5).prop_map(PathElement::Index)],
            0..3,
        ),
    )
        .prop_map(|(first, rest)| {
            let mut elements = vec![first];
            elements.extend(rest);
            Path { elements }
        })
}

/// An orderable literal: a string or number placeholder.
fn scalar() -> impl Strategy<Value = Literal> {
    prop::sample::select(vec![":s0", ":s1", ":s2", ":s3", ":n0", ":n1", ":n2", ":n3"])
        .prop_map(literal)
}

fn left_operand() -> impl Strategy<Value = Operand> {
    prop_oneof![
        3 => path().prop_map(Operand::Path),
        1 => path().prop_map(|p| Operand::Size(Box::new(Operand::Path(p)))),
    ]
}

fn comparator() -> impl Strategy<Value = Comparator> {
    prop::sample::select(vec![
        Comparator::Eq,
        Comparator::Ne,
        Comparator::Lt,
        Comparator::Le,
        Comparator::Gt,
        Comparator::Ge,
    ])
}

/// Predicates the parser accepts: a path on the left, literals on the right.
fn predicate() -> impl Strategy<Value = Condition> {
    prop_oneof![
        (comparator(), left_operand(), scalar()).prop_map(|(comparator, left, right)| {
            Condition::Compare {
                comparator,
                left,
                right: Operand::Value(right),
            }
        }),
        (left_operand(), prop::bool::ANY).prop_map(|(operand, strings)| {
            let (low, high) = if strings {
                (":s0", ":s2")
            } else {
                (":n0", ":n2")
            };
            Condition::Between {
                operand,
                low: Operand::Value(literal(low)),
                high: Operand::Value(literal(high)),
            }
        }),
        (left_operand(), prop::collection::vec(scalar(), 1..4)).prop_map(|(operand, list)| {
            Condition::In {
                operand,
                list: list.into_iter().map(Operand::Value).collect(),
            }
        }),
        path().prop_map(|p| Condition::Function(Function::AttributeExists(p))),
        path().prop_map(|p| Condition::Function(Function::AttributeNotExists(p))),
        path().prop_map(|p| Condition::Function(Function::AttributeType(p, literal(":t")))),
        path().prop_map(|p| {
            Condition::Function(Function::BeginsWith(
                Operand::Path(p),
                Operand::Value(literal(":s1")),
            ))
        }),
        (path(), scalar()).prop_map(|(p, v)| {
            Condition::Function(Function::Contains(Operand::Path(p), Operand::Value(v)))
        }),
    ]
}

fn condition() -> impl Strategy<Value = Condition> {
    predicate().prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|c| Condition::Not(Box::new(c))),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| Condition::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| Condition::Or(Box::new(a), Box::new(b))),
        ]
    })
}

fn term() -> impl Strategy<Value = Term> {
    let leaf = prop_oneof![path().prop_map(Term::Path), scalar().prop_map(Term::Value)];
    leaf.prop_recursive(2, 6, 2, |inner| {
        prop_oneof![
            (path(), inner.clone()).prop_map(|(p, t)| Term::IfNotExists(p, Box::new(t))),
            (inner.clone(), inner).prop_map(|(a, b)| Term::ListAppend(Box::new(a), Box::new(b))),
        ]
    })
}

/// Updates with one action per clause kind at most, on distinct
/// top-level names so no paths overlap.
fn update() -> impl Strategy<Value = Update> {
    let value = prop_oneof![
        term().prop_map(SetValue::Term),
        (term(), term()).prop_map(|(a, b)| SetValue::Plus(a, b)),
        (term(), term()).prop_map(|(a, b)| SetValue::Minus(a, b)),
    ];
    let rooted = |root: &'static str| {
        path().prop_map(move |mut p| {
            p.elements[0] = PathElement::Attribute {
                name: root.to_string(),
                placeholder: None,
            };
            p
        })
    };
    (
        prop::option::of((rooted("s1"), value)),
        prop::option::of(rooted("r1")),
        prop::option::of(rooted("a1")),
        prop::option::of(rooted("d1")),
    )
        .prop_filter("an update has an action", |(s, r, a, d)| {
            s.is_some() || r.is_some() || a.is_some() || d.is_some()
        })
        .prop_map(|(set, remove, add, delete)| Update {
            set: set
                .map(|(path, value)| SetAction { path, value })
                .into_iter()
                .collect(),
            remove: remove.into_iter().collect(),
            add: add
                .map(|path| ValueAction {
                    path,
                    value: literal(":n2"),
                })
                .into_iter()
                .collect(),
            delete: delete
                .map(|path| ValueAction {
                    path,
                    value: literal(":ns"),
                })
                .into_iter()
                .collect(),
        })
}

/// Literal operands of `+`/`list_append` must have the right type, which
/// the generator does not ensure; those trees are skipped.
fn statically_valid(update: &Update) -> bool {
    context().parse_update(&update.to_string()).is_ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn printed_conditions_parse_back_to_the_same_tree(condition in condition()) {
        let text = condition.to_string();
        let parsed = context().parse_condition(&text, ExpressionKind::Condition);
        prop_assert_eq!(parsed, Ok(condition), "{}", text);
    }

    #[test]
    fn printed_updates_parse_back_to_the_same_tree(update in update()) {
        prop_assume!(statically_valid(&update));
        let text = update.to_string();
        prop_assert_eq!(context().parse_update(&text), Ok(update), "{}", text);
    }
}

// ---------------------------------------------------------------------------
// The evaluator against a reference.

/// The reference's values: only what the generated items hold.
#[derive(Clone, Debug, PartialEq)]
enum Simple {
    Int(i64),
    Str(String),
    Bool(bool),
    StrSet(Vec<String>),
}

fn simple_to_json(value: &Simple) -> Value {
    match value {
        Simple::Int(n) => json!({"N": n.to_string()}),
        Simple::Str(s) => json!({"S": s}),
        Simple::Bool(b) => json!({"BOOL": b}),
        Simple::StrSet(set) => json!({"SS": set}),
    }
}

fn simple() -> impl Strategy<Value = Simple> {
    prop_oneof![
        (-3i64..4).prop_map(Simple::Int),
        prop::sample::select(vec!["", "a", "ab", "b", "ba"]).prop_map(|s| Simple::Str(s.into())),
        prop::bool::ANY.prop_map(Simple::Bool),
        prop::sample::subsequence(vec!["a", "ab", "b"], 1..=3)
            .prop_map(|v| Simple::StrSet(v.into_iter().map(String::from).collect())),
    ]
}

const ATTRS: [&str; 3] = ["p", "q", "r"];

type SimpleItem = Vec<Option<Simple>>;

fn simple_item() -> impl Strategy<Value = SimpleItem> {
    prop::collection::vec(prop::option::of(simple()), 3)
}

fn to_item(item: &SimpleItem) -> Item {
    let mut object = serde_json::Map::new();
    for (name, value) in ATTRS.iter().zip(item) {
        if let Some(value) = value {
            object.insert(name.to_string(), simple_to_json(value));
        }
    }
    item_from_json(Value::Object(object)).unwrap()
}

/// A reference condition: over attribute indexes and reference values.
#[derive(Clone, Debug)]
enum Ref {
    Cmp(Comparator, usize, Simple),
    Between(usize, Simple, Simple),
    Exists(usize),
    BeginsWith(usize, String),
    Contains(usize, String),
    SizeEq(usize, i64),
    Not(Box<Ref>),
    And(Box<Ref>, Box<Ref>),
    Or(Box<Ref>, Box<Ref>),
}

fn reference_condition() -> impl Strategy<Value = Ref> {
    let attr = 0usize..3;
    let scalar = prop_oneof![
        (-3i64..4).prop_map(Simple::Int),
        prop::sample::select(vec!["", "a", "ab", "b"]).prop_map(|s| Simple::Str(s.into())),
    ];
    let leaf = prop_oneof![
        (comparator(), attr.clone(), scalar.clone()).prop_map(|(c, a, v)| Ref::Cmp(c, a, v)),
        (attr.clone(), -3i64..4, 0i64..4).prop_map(|(a, lo, len)| Ref::Between(
            a,
            Simple::Int(lo),
            Simple::Int(lo + len)
        )),
        attr.clone().prop_map(Ref::Exists),
        (attr.clone(), prop::sample::select(vec!["", "a", "b"]))
            .prop_map(|(a, s)| Ref::BeginsWith(a, s.into())),
        (attr.clone(), prop::sample::select(vec!["a", "b", "ab"]))
            .prop_map(|(a, s)| Ref::Contains(a, s.into())),
        (attr, 0i64..4).prop_map(|(a, n)| Ref::SizeEq(a, n)),
    ];
    leaf.prop_recursive(3, 16, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|c| Ref::Not(Box::new(c))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Ref::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| Ref::Or(Box::new(a), Box::new(b))),
        ]
    })
}

/// The obvious semantics, written directly on the simple values.
fn reference(condition: &Ref, item: &SimpleItem) -> bool {
    use std::cmp::Ordering;
    let order = |a: &Simple, b: &Simple| match (a, b) {
        (Simple::Int(x), Simple::Int(y)) => Some(x.cmp(y)),
        (Simple::Str(x), Simple::Str(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        _ => None,
    };
    match condition {
        Ref::Cmp(c, a, v) => {
            let Some(x) = &item[*a] else {
                return *c == Comparator::Ne;
            };
            let equal = x == v;
            match (c, order(x, v)) {
                (Comparator::Eq, _) => equal,
                (Comparator::Ne, _) => !equal,
                (_, None) => false,
                (Comparator::Lt, Some(o)) => o == Ordering::Less,
                (Comparator::Le, Some(o)) => o != Ordering::Greater,
                (Comparator::Gt, Some(o)) => o == Ordering::Greater,
                (Comparator::Ge, Some(o)) => o != Ordering::Less,
            }
        }
        Ref::Between(a, lo, hi) => item[*a].as_ref().is_some_and(|x| {
            order(x, lo).is_some_and(|o| o != Ordering::Less)
                && order(x, hi).is_some_and(|o| o != Ordering::Greater)
        }),
        Ref::Exists(a) => item[*a].is_some(),
        Ref::BeginsWith(a, p) => {
            matches!(&item[*a], Some(Simple::Str(s)) if s.starts_with(p.as_str()))
        }
        Ref::Contains(a, n) => match &item[*a] {
            Some(Simple::Str(s)) => s.contains(n.as_str()),
            Some(Simple::StrSet(set)) => set.contains(n),
            _ => false,
        },
        Ref::SizeEq(a, n) => match &item[*a] {
            Some(Simple::Str(s)) => s.len() as i64 == *n,
            Some(Simple::StrSet(set)) => set.len() as i64 == *n,
            _ => false,
        },
        Ref::Not(c) => !reference(c, item),
        Ref::And(a, b) => reference(a, item) && reference(b, item),
        Ref::Or(a, b) => reference(a, item) || reference(b, item),
    }
}

/// The same condition as expression text, with its values.
fn to_text(condition: &Ref, values: &mut Vec<Value>) -> String {
    let mut value = |v: Value| {
        values.push(v);
        format!(":v{}", values.len() - 1)
    };
    match condition {
        Ref::Cmp(c, a, v) => format!("{} {} {}", ATTRS[*a], c.symbol(), value(simple_to_json(v))),
        Ref::Between(a, lo, hi) => {
            let lo = value(simple_to_json(lo));
            let hi = value(simple_to_json(hi));
            format!("{} BETWEEN {lo} AND {hi}", ATTRS[*a])
        }
        Ref::Exists(a) => format!("attribute_exists({})", ATTRS[*a]),
        Ref::BeginsWith(a, p) => format!("begins_with({}, {})", ATTRS[*a], value(json!({"S": p}))),
        Ref::Contains(a, n) => format!("contains({}, {})", ATTRS[*a], value(json!({"S": n}))),
        Ref::SizeEq(a, n) => format!(
            "size({}) = {}",
            ATTRS[*a],
            value(json!({"N": n.to_string()}))
        ),
        Ref::Not(c) => format!("NOT ({})", to_text(c, values)),
        Ref::And(a, b) => format!("({}) AND ({})", to_text(a, values), to_text(b, values)),
        Ref::Or(a, b) => format!("({}) OR ({})", to_text(a, values), to_text(b, values)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_evaluator_agrees_with_the_reference(condition in reference_condition(), item in simple_item()) {
        let mut values = Vec::new();
        let text = to_text(&condition, &mut values);
        let values: serde_json::Map<String, Value> = values
            .into_iter()
            .enumerate()
            .map(|(i, v)| (format!(":v{i}"), v))
            .collect();
        let values = (!values.is_empty()).then_some(Value::Object(values));
        let mut ctx = ExpressionContext::new(None, values.as_ref()).unwrap();
        let parsed = ctx.parse_condition(&text, ExpressionKind::Filter);
        // Doubled parentheses around a parenthesised NOT operand are refused
        // by DynamoDB; the reference text never produces `((`, so parsing
        // must succeed.
        let parsed = parsed.map_err(|e| format!("{text}: {e}")).unwrap();
        let expected = reference(&condition, &item);
        prop_assert_eq!(parsed.evaluate(Some(&to_item(&item))), Ok(expected), "{}", text);
    }
}

// ---------------------------------------------------------------------------
// No input makes a parser panic.

/// Text made mostly of expression-like pieces, so the parsers get deep.
fn expression_text() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "a",
        "#a",
        "#zz",
        ":s0",
        ":n1",
        ":x",
        "(",
        ")",
        "[",
        "]",
        "1",
        ".",
        ",",
        "=",
        "<>",
        "<",
        ">=",
        "+",
        "-",
        " AND ",
        " OR ",
        " NOT ",
        " BETWEEN ",
        " IN ",
        "SET ",
        " REMOVE ",
        " ADD ",
        " DELETE ",
        "size",
        "contains",
        "attribute_type",
        "list_append",
        "if_not_exists",
        "status",
        "é",
        "\u{0}",
        " ",
    ]);
    prop_oneof![
        prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat()),
        ".{0,64}",
    ]
}

fn schema() -> KeySchema {
    KeySchema {
        partition: KeyAttribute {
            name: "a".into(),
            key_type: KeyType::S,
        },
        sort: Some(KeyAttribute {
            name: "first-name".into(),
            key_type: KeyType::N,
        }),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn no_parser_panics_on_any_text(text in expression_text()) {
        let _ = context().parse_condition(&text, ExpressionKind::Condition);
        let _ = context().parse_update(&text);
        let _ = context().parse_projection(&text);
        let _ = context().parse_key_condition(&text, &schema());
        if let Ok(update) = context().parse_update(&text) {
            let _ = update.apply(None, &Item::new());
        }
    }

    #[test]
    fn no_legacy_translation_panics_on_any_json(json in arbitrary_json()) {
        let _ = legacy::expected(&json, Some(&json));
        let _ = legacy::filter(&json, None, "ScanFilter");
        let _ = legacy::key_conditions(&json, &schema());
        let _ = legacy::attributes_to_get(&json);
        let _ = legacy::attribute_updates(&json);
        let _ = ExpressionContext::new(Some(&json), Some(&json));
    }
}

#[test]
fn deeply_nested_text_is_refused_without_overflowing_the_stack() {
    for open in ["(", "NOT ", "size(", "NOT ("] {
        let text = format!("{}a = :s0", open.repeat(4000 / open.len() - 4));
        assert!(text.len() <= 4096);
        assert!(
            context()
                .parse_condition(&text, ExpressionKind::Condition)
                .is_err()
        );
    }
    let text = format!("SET a = {}", "list_append(".repeat(500));
    assert!(context().parse_update(&text).is_err());
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        prop::bool::ANY.prop_map(Value::Bool),
        (-5i64..5).prop_map(|n| json!(n)),
        prop::sample::select(vec![
            "S", "N", "EQ", "BETWEEN", "IN", "NULL", "ADD", "DELETE", "PUT", "OR", "1", "a", "#a",
            ":a",
        ])
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "a",
                    "S",
                    "N",
                    "L",
                    "M",
                    "SS",
                    "Value",
                    "Exists",
                    "ComparisonOperator",
                    "AttributeValueList",
                    "Action",
                    "#a",
                    ":a",
                ])
                .prop_map(String::from),
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
