//! Attribute values, names and items as JSON: mostly valid, often subtly
//! not. The pools below hold the inputs that sit on a rule's edge (the
//! largest and smallest numbers, 38 and 39 digits, padding-free base64,
//! 32 and 33 levels of nesting), because that is where parsers break.

use serde_json::{Map, Value as Json, json};

use crate::rng::Rng;

/// Attribute names: the fixture tables' keys, plain names, reserved words,
/// names that need a placeholder, and names that are not allowed at all.
pub const ATTRIBUTE_NAMES: &[&str] = &[
    "pk",
    "sk",
    "pk",
    "sk",
    "a",
    "b",
    "c",
    "n",
    "s",
    "list",
    "map",
    "set",
    "Name",
    "SET",
    "status",
    "a.b",
    "first-name",
    "#x",
    ":v",
    "é",
    "日本",
    "",
    " ",
    "a[0]",
    "x_1",
];

/// Number strings: valid, at the limits, and malformed.
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "2.5",
    "100",
    "0.000",
    "00001",
    "1e2",
    "1E-2",
    "9.9999999999999999999999999999999999999E+125",
    "-9.9999999999999999999999999999999999999E+125",
    "1E-130",
    "-1E-130",
    "1E+126",
    "1E-131",
    "12345678901234567890123456789012345678",
    "123456789012345678901234567890123456789",
    "0.12345678901234567890123456789012345678901",
    "1e999999999999999999999",
    "1e-999999999999999999999",
    "1e9223372036854775807",
    "1e-9223372036854775808",
    "18446744073709551616",
    "1.",
    ".5",
    "+1",
    "--1",
    "1e",
    "e5",
    "NaN",
    "Infinity",
    " 1",
    "1 ",
    "",
    "0x10",
    "1_000",
    "١",
];

/// Strings: empty, odd unicode, control characters, long.
const STRINGS: &[&str] = &[
    "",
    "a",
    "ab",
    "b",
    "abc",
    "é",
    "\u{0}",
    "\u{7f}",
    "\u{feff}",
    "\u{10ffff}",
    "🦀",
    "a\nb",
    "\"quoted\"",
    "\\",
    "N",
    "S",
    "SS",
    "L",
    "M",
    "BOOL",
];

/// Base64 texts: valid, unpadded, padded wrongly, not base64.
const BASE64: &[&str] = &[
    "", "AA==", "AAE=", "AAEC", "YWJj", "AA", "A", "A===", "====", "AA=A", "!!!!", "YW Jj",
    "YW\nJj", "-_-_", "////", "AA==AA==",
];

/// Every type descriptor, and some that are not one.
const TYPES: &[&str] = &[
    "S", "N", "B", "SS", "NS", "BS", "M", "L", "BOOL", "NULL", "s", "X", "", "Ss",
];

/// A string from the pool, or a long one (attribute values may be large;
/// names may not).
pub fn string(rng: &mut Rng) -> String {
    match rng.below(20) {
        0 => "x".repeat(rng.below(70_000)),
        1 => "é".repeat(rng.below(40)),
        _ => (*rng.pick(STRINGS)).to_string(),
    }
}

pub fn number(rng: &mut Rng) -> String {
    if rng.chance(1, 6) {
        return rng.between(-1000, 1000).to_string();
    }
    (*rng.pick(NUMBERS)).to_string()
}

pub fn base64(rng: &mut Rng) -> String {
    (*rng.pick(BASE64)).to_string()
}

/// An attribute name: from the pool, a placeholder-looking one, or long.
pub fn attribute_name(rng: &mut Rng) -> String {
    match rng.below(30) {
        0 => "n".repeat(rng.below(70_000)),
        1 => format!("attr{}", rng.below(1000)),
        _ => (*rng.pick(ATTRIBUTE_NAMES)).to_string(),
    }
}

/// An AttributeValue. `depth` bounds the recursion; values deeper than 32
/// levels are produced on purpose now and then.
pub fn attribute_value(rng: &mut Rng, depth: usize) -> Json {
    if rng.chance(1, 60) {
        return invalid_attribute_value(rng, depth);
    }
    let kinds = if depth == 0 { 10 } else { 12 };
    match rng.below(kinds) {
        0 | 1 => json!({ "S": string(rng) }),
        2 | 3 => json!({ "N": number(rng) }),
        4 => json!({ "B": base64(rng) }),
        5 => json!({ "BOOL": rng.chance(1, 2) }),
        6 => json!({ "NULL": !rng.chance(1, 10) }),
        7 => json!({ "SS": list_of(rng, string) }),
        8 => json!({ "NS": list_of(rng, number) }),
        9 => json!({ "BS": list_of(rng, base64) }),
        10 => {
            let len = rng.below(4);
            let items: Vec<Json> = (0..len).map(|_| attribute_value(rng, depth - 1)).collect();
            json!({ "L": items })
        }
        _ => {
            let len = rng.below(4);
            let mut map = Map::new();
            for _ in 0..len {
                map.insert(attribute_name(rng), attribute_value(rng, depth - 1));
            }
            json!({ "M": map })
        }
    }
}

/// A short list, sometimes empty, sometimes with duplicates.
fn list_of(rng: &mut Rng, element: fn(&mut Rng) -> String) -> Vec<String> {
    let len = rng.below(4);
    let mut list: Vec<String> = (0..len).map(|_| element(rng)).collect();
    if rng.chance(1, 6)
        && let Some(first) = list.first().cloned()
    {
        list.push(first);
    }
    list
}

/// A value that breaks the AttributeValue rules: no type, two types, the
/// wrong JSON type inside, unknown types, too deep.
pub fn invalid_attribute_value(rng: &mut Rng, depth: usize) -> Json {
    match rng.below(12) {
        0 => json!({}),
        1 => json!({ "S": "a", "N": "1" }),
        2 => {
            let mut value = Map::new();
            value.insert((*rng.pick(TYPES)).to_string(), any_json(rng, 2));
            Json::Object(value)
        }
        3 => any_json(rng, 2),
        4 => json!({ "SS": [1, 2] }),
        5 => json!({ "L": {} }),
        6 => json!({ "M": [] }),
        7 => json!({ "NULL": false }),
        8 => {
            // Nested lists past DynamoDB's 32 levels.
            let mut value = json!({ "S": "deep" });
            for _ in 0..(30 + rng.below(8)) {
                value = json!({ "L": [value] });
            }
            value
        }
        9 => {
            let mut value = json!({ "N": "1" });
            for _ in 0..(30 + rng.below(8)) {
                value = json!({ "M": { "k": value } });
            }
            value
        }
        10 => json!({ "B": any_json(rng, 1) }),
        _ => attribute_value(rng, depth.min(1)),
    }
}

/// Valid numbers, from the smallest to the largest magnitude.
const VALID_NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2.5",
    "10",
    "1E+125",
    "-9.9999999999999999999999999999999999999E+125",
    "9.9999999999999999999999999999999999999E+125",
    "1E-130",
    "-1E-130",
    "12345678901234567890123456789012345678",
    "0.00000000000000000000000000000000000001",
];

/// A valid value of one kind (`N`, `L`, `s`/`n`/`b` for the sets, `?`
/// for any): what most placeholders get, so that evaluation is reached.
pub fn tame_value(rng: &mut Rng, kind: char) -> Json {
    let number = |rng: &mut Rng| -> String {
        if rng.chance(1, 2) {
            rng.between(-5, 5).to_string()
        } else {
            (*rng.pick(VALID_NUMBERS)).to_string()
        }
    };
    let kind = if kind == '?' {
        *rng.pick(&['S', 'N', 'B', 'L', 'M', 's', 'n', 'b', 'T'])
    } else {
        kind
    };
    match kind {
        'N' => json!({ "N": number(rng) }),
        'B' => json!({ "B": *rng.pick(&["AA==", "YWJj", "AQID"]) }),
        'L' => {
            let items: Vec<Json> = (0..rng.below(3))
                .map(|_| {
                    let kind = *rng.pick(&['S', 'N']);
                    tame_value(rng, kind)
                })
                .collect();
            json!({ "L": items })
        }
        'M' => json!({ "M": { "a": tame_value(rng, 'N'), "b": { "S": "x" } } }),
        's' => json!({ "SS": (0..1 + rng.below(3)).map(|i| format!("s{i}")).collect::<Vec<_>>() }),
        'n' => json!({ "NS": (0..1 + rng.below(3)).map(|i| i.to_string()).collect::<Vec<_>>() }),
        'b' => json!({ "BS": ["AA==", "AQ=="] }),
        'T' => json!({ "BOOL": rng.chance(1, 2) }),
        _ => json!({ "S": *rng.pick(&["a", "ab", "b", "", "é", "k0"]) }),
    }
}

/// Any JSON at all, small.
pub fn any_json(rng: &mut Rng, depth: usize) -> Json {
    let kinds = if depth == 0 { 6 } else { 8 };
    match rng.below(kinds) {
        0 => Json::Null,
        1 => Json::Bool(rng.chance(1, 2)),
        2 => json!(rng.between(i64::MIN, i64::MAX)),
        3 => json!(*rng.pick(&[0.5, -1e308, 1e308, 3.0, -0.0])),
        4 => json!(string(rng)),
        5 => json!(number(rng)),
        6 => Json::Array(
            (0..rng.below(3))
                .map(|_| any_json(rng, depth - 1))
                .collect(),
        ),
        _ => {
            let mut map = Map::new();
            for _ in 0..rng.below(3) {
                map.insert(attribute_name(rng), any_json(rng, depth - 1));
            }
            Json::Object(map)
        }
    }
}

/// The key attributes of a table, for generating keys that fit it.
#[derive(Clone, Copy, Debug)]
pub struct KeyShape {
    pub hash: (&'static str, &'static str),
    pub range: Option<(&'static str, &'static str)>,
}

/// A scalar of the given type, mostly from a small pool so that writes
/// and reads meet on the same keys.
pub fn key_scalar(rng: &mut Rng, attribute_type: &str) -> Json {
    if rng.chance(1, 20) {
        return attribute_value(rng, 1);
    }
    if rng.chance(1, 30) {
        // At and past the key size limits: 2048 bytes for a partition
        // key, 1024 for a sort key.
        let len = *rng.pick(&[1023, 1024, 1025, 2047, 2048, 2049]);
        return match attribute_type {
            "N" => json!({ "N": "9".repeat(len.min(45)) }),
            "B" => json!({ "B": "A".repeat(len / 3 * 4) }),
            _ => json!({ "S": "k".repeat(len) }),
        };
    }
    match attribute_type {
        "N" => json!({ "N": rng.between(-2, 5).to_string() }),
        "B" => json!({ "B": *rng.pick(&["AA==", "AQ==", "Ag==", "AAE="]) }),
        _ => json!({ "S": *rng.pick(&["k0", "k1", "k2", "k3", "é", "k0"]) }),
    }
}

/// A primary key for `shape`, sometimes with a member missing, extra, or
/// of the wrong type.
pub fn key(rng: &mut Rng, shape: KeyShape) -> Map<String, Json> {
    let mut key = Map::new();
    if !rng.chance(1, 30) {
        key.insert(shape.hash.0.to_string(), key_scalar(rng, shape.hash.1));
    }
    if let Some((name, attribute_type)) = shape.range
        && !rng.chance(1, 30)
    {
        key.insert(name.to_string(), key_scalar(rng, attribute_type));
    }
    if rng.chance(1, 30) {
        key.insert(attribute_name(rng), attribute_value(rng, 1));
    }
    key
}

/// An item for `shape`: its key and a few more attributes.
pub fn item(rng: &mut Rng, shape: KeyShape) -> Map<String, Json> {
    let mut item = key(rng, shape);
    for _ in 0..rng.below(5) {
        if rng.chance(1, 3) {
            item.insert(attribute_name(rng), attribute_value(rng, 3));
        } else {
            let name = *rng.pick(&["a", "b", "c", "n", "s", "list", "map"]);
            item.insert(name.to_string(), tame_value(rng, '?'));
        }
    }
    item
}

/// An item as a `step01_kv` item, for evaluating expressions directly;
/// invalid generated items are retried, then left empty.
pub fn stored_item(rng: &mut Rng, shape: KeyShape) -> step01_kv::value::Item {
    for _ in 0..8 {
        let json = Json::Object(item(rng, shape));
        if let Ok(item) = step01_kv::value::item_from_json(json) {
            return item;
        }
    }
    step01_kv::value::Item::default()
}
