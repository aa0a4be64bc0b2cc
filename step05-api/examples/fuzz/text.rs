//! Expression texts: grammar-shaped (paths, `#names`, `:values`,
//! operators, functions, parentheses, keywords), then often damaged by
//! truncation, splicing, insertion or deletion, so that parsers see both
//! near-valid text and text that is valid up to some odd point.
//!
//! A text comes with the `ExpressionAttributeNames` and
//! `ExpressionAttributeValues` it refers to ([`maps_for`]): usually exactly
//! the placeholders it uses, sometimes one missing or one extra, sometimes
//! maps generated with no regard to the text. Value placeholders where a
//! type is required (`ADD a :n0`, `list_append(a, :l1)`) name the type they
//! want, so that most texts get past the type rules to what follows them.

use std::collections::BTreeSet;

use serde_json::{Map, Value as Json};

use crate::rng::Rng;
use crate::values;

/// Name placeholders the texts use: `#n0`…`#n4`.
const NAME_PLACEHOLDERS: usize = 4;
/// Untyped value placeholders the texts use: `:v0`…`:v6`.
const VALUE_PLACEHOLDERS: usize = 6;

const COMPARATORS: &[&str] = &["=", "<>", "<", "<=", ">", ">="];
const FUNCTIONS: &[&str] = &[
    "attribute_exists",
    "attribute_not_exists",
    "attribute_type",
    "begins_with",
    "contains",
    "size",
    "if_not_exists",
    "list_append",
    "unknown_fn",
    "SIZE",
];
/// Bare words: plain names, keywords in odd case, reserved words.
const WORDS: &[&str] = &[
    "a", "b", "c", "pk", "sk", "list", "map", "n", "s", "x_1", "AND", "or", "Not", "BETWEEN", "in",
    "SET", "remove", "ADD", "delete", "name", "status", "size", "_",
];
/// Single tokens for insertion: every punctuation and operator, plus
/// characters that start no token.
const TOKENS: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    ",",
    ".",
    "=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "+",
    "-",
    "#",
    ":",
    "#n0",
    ":v0",
    "AND",
    "OR",
    "NOT",
    "BETWEEN",
    "IN",
    "SET",
    "REMOVE",
    "ADD",
    "DELETE",
    "0",
    "4294967296",
    "!",
    "é",
    "\u{0}",
    "\"",
    "'",
    "🦀",
    " ",
    "\t",
    "\n",
];

/// An expression text and its placeholder maps (`None`: not given).
#[derive(Clone, Debug)]
pub struct Expression {
    pub text: String,
    pub names: Option<Json>,
    pub values: Option<Json>,
}

/// The generator's state for one text: how deep it may still go.
struct Grammar<'a> {
    rng: &'a mut Rng,
    budget: usize,
}

impl Grammar<'_> {
    /// Spends one unit of the size budget; false once it is used up.
    fn spend(&mut self) -> bool {
        if self.budget == 0 {
            return false;
        }
        self.budget -= 1;
        true
    }

    fn name(&mut self) -> String {
        if self.rng.chance(1, 3) {
            format!("#n{}", self.rng.below(NAME_PLACEHOLDERS + 1))
        } else {
            (*self.rng.pick(WORDS)).to_string()
        }
    }

    fn value(&mut self) -> String {
        format!(":v{}", self.rng.below(VALUE_PLACEHOLDERS + 1))
    }

    /// A value placeholder whose name asks [`maps_for`] for a type (see
    /// [`typed_value`]), usually; any value otherwise.
    fn typed(&mut self, kind: char) -> String {
        if self.rng.chance(1, 5) {
            return self.value();
        }
        format!(":{kind}{}", self.rng.below(2))
    }

    fn path(&mut self) -> String {
        let mut path = self.name();
        while self.rng.chance(1, 3) && self.spend() {
            if self.rng.chance(1, 2) {
                path.push('.');
                path.push_str(&self.name());
            } else {
                let index = match self.rng.below(6) {
                    0 => "4294967295".to_string(),
                    1 => "99999999999999999999".to_string(),
                    _ => self.rng.below(4).to_string(),
                };
                path.push_str(&format!("[{index}]"));
            }
        }
        path
    }

    fn operand(&mut self) -> String {
        if !self.spend() {
            return self.path();
        }
        match self.rng.below(7) {
            0 | 1 => self.path(),
            2 | 3 => self.value(),
            4 => format!("size({})", self.path()),
            5 => self.call(),
            _ => format!(
                "{} {} {}",
                self.path(),
                self.rng.pick(&["+", "-"]),
                self.typed('n')
            ),
        }
    }

    /// A call of any function with one to three arguments.
    fn call(&mut self) -> String {
        let function = *self.rng.pick(FUNCTIONS);
        let count = 1 + self.rng.below(3);
        let args: Vec<String> = (0..count).map(|_| self.operand()).collect();
        format!("{function}({})", args.join(", "))
    }

    fn condition(&mut self) -> String {
        if !self.spend() {
            return format!("attribute_exists({})", self.path());
        }
        match self.rng.below(12) {
            0 => format!("{} AND {}", self.condition(), self.condition()),
            1 => format!("{} OR {}", self.condition(), self.condition()),
            2 => format!("NOT {}", self.condition()),
            3 => format!("({})", self.condition()),
            4 => format!(
                "{} BETWEEN {} AND {}",
                self.operand(),
                self.operand(),
                self.operand()
            ),
            5 => {
                let count = 1 + self.rng.below(4);
                let list: Vec<String> = (0..count).map(|_| self.operand()).collect();
                format!("{} IN ({})", self.operand(), list.join(", "))
            }
            6 => self.call(),
            7 => format!("attribute_type({}, {})", self.path(), self.typed('t')),
            _ => format!(
                "{} {} {}",
                self.operand(),
                self.rng.pick(COMPARATORS),
                self.operand()
            ),
        }
    }

    fn set_value(&mut self) -> String {
        match self.rng.below(6) {
            0 => format!("if_not_exists({}, {})", self.path(), self.operand()),
            1 => format!(
                "list_append({}, {})",
                self.list_operand(),
                self.list_operand()
            ),
            2 => format!("{} + {}", self.number_operand(), self.number_operand()),
            3 => format!("{} - {}", self.number_operand(), self.number_operand()),
            _ => self.operand(),
        }
    }

    fn number_operand(&mut self) -> String {
        if self.rng.chance(1, 2) {
            self.typed('n')
        } else {
            self.operand()
        }
    }

    fn list_operand(&mut self) -> String {
        if self.rng.chance(1, 2) {
            self.typed('l')
        } else {
            self.operand()
        }
    }

    fn update(&mut self) -> String {
        // Each clause at most once (usually), in any order.
        let mut clauses = vec!["SET", "REMOVE", "ADD", "DELETE"];
        let mut text = Vec::new();
        for _ in 0..1 + self.rng.below(3) {
            let index = self.rng.below(clauses.len());
            let clause = if self.rng.chance(1, 20) || clauses.is_empty() {
                *self.rng.pick(&["SET", "set", "Add", "remove"])
            } else {
                clauses.remove(index)
            };
            let count = 1 + self.rng.below(3);
            let actions: Vec<String> = (0..count)
                .map(|_| match clause.to_ascii_uppercase().as_str() {
                    "SET" => format!("{} = {}", self.path(), self.set_value()),
                    "REMOVE" => self.path(),
                    "ADD" => {
                        let kind = *self.rng.pick(&['n', 's']);
                        format!("{} {}", self.path(), self.typed(kind))
                    }
                    _ => format!("{} {}", self.path(), self.typed('s')),
                })
                .collect();
            text.push(format!("{clause} {}", actions.join(", ")));
        }
        text.join(" ")
    }

    fn projection(&mut self) -> String {
        let count = 1 + self.rng.below(5);
        let paths: Vec<String> = (0..count).map(|_| self.path()).collect();
        paths.join(", ")
    }

    fn key_condition(&mut self) -> String {
        let hash = *self.rng.pick(&["pk", "#n0", "sk", "a"]);
        let mut text = format!("{hash} = {}", self.typed('k'));
        if self.rng.chance(2, 3) {
            let range = *self.rng.pick(&["sk", "#n1", "pk", "b"]);
            let predicate = match self.rng.below(4) {
                0 => format!(
                    "{range} BETWEEN {} AND {}",
                    self.typed('r'),
                    self.typed('r')
                ),
                1 => format!("begins_with({range}, {})", self.typed('r')),
                2 => format!("{} {} {range}", self.typed('r'), self.rng.pick(COMPARATORS)),
                _ => format!("{range} {} {}", self.rng.pick(COMPARATORS), self.typed('r')),
            };
            text = if self.rng.chance(1, 2) {
                format!("{text} AND {predicate}")
            } else {
                format!("{predicate} AND {text}")
            };
        }
        text
    }
}

/// Which language a text is shaped after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    Condition,
    Update,
    Projection,
    KeyCondition,
}

/// A text shaped after `language` (or, now and then, after nothing).
pub fn text(rng: &mut Rng, language: Language) -> String {
    let mut base = match rng.below(24) {
        0 => random_text(rng),
        1 => nested(rng),
        2 => long(rng),
        _ => {
            let budget = 1 + rng.below(12);
            let mut grammar = Grammar { rng, budget };
            match language {
                Language::Condition => grammar.condition(),
                Language::Update => grammar.update(),
                Language::Projection => grammar.projection(),
                Language::KeyCondition => grammar.key_condition(),
            }
        }
    };
    // Half the texts are damaged, half stay as generated.
    let mutations = if rng.chance(1, 2) {
        0
    } else {
        1 + rng.below(3)
    };
    for _ in 0..mutations {
        base = mutate(rng, &base, language);
    }
    base
}

/// Characters in no particular order, drawn mostly from the tokens.
fn random_text(rng: &mut Rng) -> String {
    let len = rng.below(40);
    let mut text = String::new();
    for _ in 0..len {
        if rng.chance(1, 8) {
            // Any scalar value, surrogates excluded by `from_u32`.
            let c = char::from_u32(rng.below(0x11_0000) as u32).unwrap_or('?');
            text.push(c);
        } else {
            let token = TOKENS[rng.below(TOKENS.len())];
            text.push_str(token);
        }
    }
    text
}

/// Parentheses, `NOT`s or calls around and around one predicate, near and
/// past the parser's nesting limit.
fn nested(rng: &mut Rng) -> String {
    let depth = 90 + rng.below(30);
    match rng.below(3) {
        0 => format!("{}a = :v0{}", "(".repeat(depth), ")".repeat(depth)),
        1 => format!("{}a = :v0", "NOT ".repeat(depth)),
        _ => format!("{}a{}", "size(".repeat(depth), ")".repeat(depth)),
    }
}

/// Many operators, or many bytes, near the limits (300 operators, 4 KB).
fn long(rng: &mut Rng) -> String {
    let count = 280 + rng.below(40);
    match rng.below(3) {
        0 => vec!["a = :v0"; count].join(" AND "),
        1 => format!("a IN ({})", vec![":v0"; count].join(", ")),
        _ => "a".repeat(4090 + rng.below(10)),
    }
}

/// One damaging change: truncate, splice with another text, insert a
/// token, delete a range, or double the text.
fn mutate(rng: &mut Rng, text: &str, language: Language) -> String {
    let at = boundary(text, rng.below(text.len() + 1));
    match rng.below(6) {
        0 => text[..at].to_string(),
        1 => {
            let other = text_unmutated(rng, language);
            let cut = boundary(&other, rng.below(other.len() + 1));
            format!("{}{}", &text[..at], &other[cut..])
        }
        2 | 3 => {
            let token = *rng.pick(TOKENS);
            let space = if rng.chance(1, 2) { " " } else { "" };
            format!("{}{space}{token}{space}{}", &text[..at], &text[at..])
        }
        4 => {
            let end = boundary(text, at + rng.below(8));
            format!("{}{}", &text[..at], &text[end.max(at)..])
        }
        _ => format!("{text}{}{text}", rng.pick(&[" ", ", ", " AND ", " SET "])),
    }
}

/// A grammar-shaped text with no damage, for splicing.
fn text_unmutated(rng: &mut Rng, language: Language) -> String {
    let budget = 1 + rng.below(6);
    let mut grammar = Grammar { rng, budget };
    match language {
        Language::Condition => grammar.condition(),
        Language::Update => grammar.update(),
        Language::Projection => grammar.projection(),
        Language::KeyCondition => grammar.key_condition(),
    }
}

/// The nearest char boundary at or below `at`.
fn boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// `ExpressionAttributeNames` for the texts: usually `#n0`…`#n3`, with
/// some missing, extra or malformed entries.
pub fn names(rng: &mut Rng) -> Option<Json> {
    if rng.chance(1, 8) {
        return None;
    }
    if rng.chance(1, 30) {
        return Some(values::any_json(rng, 2));
    }
    let mut map = Map::new();
    for index in 0..NAME_PLACEHOLDERS {
        if rng.chance(5, 6) {
            map.insert(
                format!("#n{index}"),
                Json::String(values::attribute_name(rng)),
            );
        }
    }
    if rng.chance(1, 15) {
        let key = (*rng.pick(&["#", "n0", "#n-1", "#é", "#n9"])).to_string();
        map.insert(key, values::any_json(rng, 1));
    }
    Some(Json::Object(map))
}

/// `ExpressionAttributeValues` for the texts, the same way.
pub fn values(rng: &mut Rng) -> Option<Json> {
    if rng.chance(1, 8) {
        return None;
    }
    if rng.chance(1, 30) {
        return Some(values::any_json(rng, 2));
    }
    let mut map = Map::new();
    for index in 0..VALUE_PLACEHOLDERS {
        if rng.chance(5, 6) {
            map.insert(format!(":v{index}"), values::attribute_value(rng, 3));
        }
    }
    if rng.chance(1, 15) {
        let key = (*rng.pick(&[":", "v0", ":v-1", ":é", ":v9"])).to_string();
        map.insert(key, values::attribute_value(rng, 1));
    }
    Some(Json::Object(map))
}

/// The `#name` and `:value` placeholders in `texts`, as the lexer reads
/// them: a sigil and a run of `[A-Za-z0-9_]`.
pub fn placeholders_in(texts: &[&str]) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut names = BTreeSet::new();
    let mut values = BTreeSet::new();
    for text in texts {
        let bytes = text.as_bytes();
        let mut at = 0;
        // Bounded: each turn moves past at least one byte.
        while at < bytes.len() {
            let sigil = bytes[at];
            let end = bytes[at + 1..]
                .iter()
                .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
                .map_or(bytes.len(), |offset| at + 1 + offset);
            if (sigil == b'#' || sigil == b':') && end > at + 1 {
                let placeholder = text[at..end].to_string();
                if sigil == b'#' {
                    names.insert(placeholder);
                } else {
                    values.insert(placeholder);
                }
                at = end;
            } else {
                at += 1;
            }
        }
    }
    (names, values)
}

/// Maps that define what `texts` use, usually exactly (an unused or
/// undefined placeholder ends a request early), sometimes with one entry
/// too many or too few, sometimes generated with no regard to the texts.
pub fn maps_for(rng: &mut Rng, texts: &[&str]) -> (Option<Json>, Option<Json>) {
    if rng.chance(1, 5) {
        return (names(rng), values(rng));
    }
    let (used_names, used_values) = placeholders_in(texts);
    let mut name_map = Map::new();
    for placeholder in used_names {
        let name = if rng.chance(3, 4) {
            (*rng.pick(&["a", "b", "c", "pk", "sk", "list", "map", "n", "s"])).to_string()
        } else {
            values::attribute_name(rng)
        };
        name_map.insert(placeholder, Json::String(name));
    }
    let mut value_map = Map::new();
    for placeholder in used_values {
        let value = typed_value(rng, &placeholder);
        value_map.insert(placeholder, value);
    }
    for map in [&mut name_map, &mut value_map] {
        if rng.chance(1, 12) {
            let first = map.keys().next().cloned();
            if let Some(first) = first {
                map.remove(&first);
            }
        }
    }
    if rng.chance(1, 12) {
        name_map.insert("#extra".into(), Json::String("e".into()));
    }
    if rng.chance(1, 12) {
        value_map.insert(":extra".into(), values::attribute_value(rng, 1));
    }
    let as_option = |map: Map<String, Json>| (!map.is_empty()).then_some(Json::Object(map));
    (as_option(name_map), as_option(value_map))
}

/// The value for a placeholder, by the letter after its `:`: `n` a
/// number, `s` a set, `l` a list, `t` a type name, `k` and `r` a key
/// scalar (partition, sort); anything else any value. The grammar puts
/// each where its type is required, so that typed rules are passed and
/// what lies behind them is reached.
fn typed_value(rng: &mut Rng, placeholder: &str) -> Json {
    if rng.chance(1, 10) {
        return values::attribute_value(rng, 3);
    }
    match placeholder.as_bytes().get(1) {
        Some(b'n') => values::tame_value(rng, 'N'),
        Some(b's') => {
            let kind = *rng.pick(&['s', 'n', 'b']);
            values::tame_value(rng, kind)
        }
        Some(b'l') => values::tame_value(rng, 'L'),
        Some(b't') => Json::Object(Map::from_iter([(
            "S".to_string(),
            Json::String(
                (*rng.pick(&[
                    "S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL", "X",
                ]))
                .to_string(),
            ),
        )])),
        Some(b'k') => {
            let key_type = *rng.pick(&["S", "S", "B", "N"]);
            values::key_scalar(rng, key_type)
        }
        Some(b'r') => {
            let key_type = *rng.pick(&["N", "S", "S", "B"]);
            values::key_scalar(rng, key_type)
        }
        _ => values::tame_value(rng, '?'),
    }
}

/// A text with maps to go with it.
pub fn expression(rng: &mut Rng, language: Language) -> Expression {
    let text = text(rng, language);
    let (names, values) = maps_for(rng, &[&text]);
    Expression {
        text,
        names,
        values,
    }
}
