//! Document paths against data: finding the value a path names, and
//! deciding whether two paths of one expression collide.
//!
//! Both are used by several languages: conditions and projections read
//! through paths, updates write through them, and updates and projections
//! refuse two paths that overlap (`a` and `a.b`: one contains the other)
//! or conflict (`a.b` and `a[1]`: they disagree on whether `a` is a map or a
//! list).

use step01_kv::value::{AttributeValue, Item};

use super::ast::{Path, PathElement};

/// The value `path` names in `item`, or `None` when any step is missing or
/// of the wrong container type (an index into a map, a key into a list, an
/// index past the end).
pub fn resolve<'a>(item: &'a Item, path: &Path) -> Option<&'a AttributeValue> {
    let mut elements = path.elements.iter();
    let mut current = match elements.next()? {
        PathElement::Attribute { name, .. } => item.get(name)?,
        PathElement::Index(_) => return None,
    };
    for element in elements {
        current = step(current, element)?;
    }
    Some(current)
}

/// One step down from a map or a list.
pub fn step<'a>(value: &'a AttributeValue, element: &PathElement) -> Option<&'a AttributeValue> {
    match (value, element) {
        (AttributeValue::M(map), PathElement::Attribute { name, .. }) => map.get(name),
        (AttributeValue::L(list), PathElement::Index(index)) => {
            list.get(usize::try_from(*index).ok()?)
        }
        _ => None,
    }
}

/// How two paths of one expression relate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    /// Neither path leads through the other's target: `a.b` and `a.c`.
    Independent,
    /// One path is the other or lies inside it: `a` and `a.b[0]`.
    Overlap,
    /// The paths agree up to a step where one takes a map key and the
    /// other a list index: `a.b` and `a[0]`.
    Conflict,
}

// ANCHOR: relation
/// Compares two paths element by element.
pub fn relation(one: &Path, two: &Path) -> Relation {
    // EXERCISE(05.25): walk both paths together: the first differing step decides (same kind: independent, map key vs index: conflict); no differing step means one contains the other
    for (a, b) in one.elements.iter().zip(&two.elements) {
        match (a, b) {
            (PathElement::Attribute { name: x, .. }, PathElement::Attribute { name: y, .. }) => {
                if x != y {
                    return Relation::Independent;
                }
            }
            (PathElement::Index(x), PathElement::Index(y)) => {
                if x != y {
                    return Relation::Independent;
                }
            }
            _ => return Relation::Conflict,
        }
    }
    Relation::Overlap
    // END EXERCISE
}
// ANCHOR_END: relation

/// A path as DynamoDB quotes it in error messages: `[a, b, [2]]`, names
/// resolved.
pub fn describe(path: &Path) -> String {
    let parts: Vec<String> = path
        .elements
        .iter()
        .map(|element| match element {
            PathElement::Attribute { name, .. } => name.clone(),
            PathElement::Index(index) => format!("[{index}]"),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

/// The message for two colliding paths, or `None` if they are independent.
pub fn collision_message(one: &Path, two: &Path) -> Option<String> {
    let what = match relation(one, two) {
        Relation::Independent => return None,
        Relation::Overlap => "overlap",
        Relation::Conflict => "conflict",
    };
    Some(format!(
        "Two document paths {what} with each other; must remove or rewrite one of these paths; path one: {}, path two: {}",
        describe(one),
        describe(two)
    ))
}

/// The first collision among `paths`, compared in order (each with every
/// earlier one), so "path one" is the one written first.
///
/// Quadratic, but bounded: a 4 KB expression holds at most about a
/// thousand paths.
pub fn first_collision(paths: &[&Path]) -> Option<String> {
    for (later, path) in paths.iter().enumerate() {
        for earlier in &paths[..later] {
            if let Some(message) = collision_message(earlier, path) {
                return Some(message);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use step01_kv::number::Number;

    /// `a.b[1]` → a path (test helper; names only, no placeholders).
    pub(crate) fn p(text: &str) -> Path {
        let mut elements = Vec::new();
        for part in text.split('.') {
            let (name, indexes) = part.split_once('[').map_or((part, ""), |(n, i)| (n, i));
            if !name.is_empty() {
                elements.push(PathElement::Attribute {
                    name: name.to_string(),
                    placeholder: None,
                });
            }
            for index in indexes.split('[').filter(|s| !s.is_empty()) {
                elements.push(PathElement::Index(
                    index.trim_end_matches(']').parse().unwrap(),
                ));
            }
        }
        Path { elements }
    }

    #[test]
    fn resolves_nested_maps_and_lists() {
        let json = serde_json::json!({
            "a": {"M": {"b": {"L": [{"N": "1"}, {"S": "x"}]}}},
        });
        let item = step01_kv::value::item_from_json(json).unwrap();
        assert_eq!(
            resolve(&item, &p("a.b[1]")),
            Some(&AttributeValue::S("x".into()))
        );
        assert_eq!(
            resolve(&item, &p("a.b[0]")),
            Some(&AttributeValue::N(Number::from(1i64)))
        );
        for missing in ["a.b[2]", "a.c", "a[0]", "a.b.c", "z", "a.b[0].c"] {
            assert_eq!(resolve(&item, &p(missing)), None, "{missing}");
        }
    }

    #[test]
    fn ex05_25_paths_relate_by_their_first_differing_step() {
        let table = [
            ("a", "b", Relation::Independent),
            ("a.b", "a.c", Relation::Independent),
            ("a[0]", "a[1]", Relation::Independent),
            ("a", "a", Relation::Overlap),
            ("a", "a.b", Relation::Overlap),
            ("a.b[2].c", "a.b", Relation::Overlap),
            ("a.b", "a[0]", Relation::Conflict),
            ("a[0].x", "a.x", Relation::Conflict),
        ];
        for (one, two, expected) in table {
            assert_eq!(relation(&p(one), &p(two)), expected, "{one} vs {two}");
            assert_eq!(relation(&p(two), &p(one)), expected, "{two} vs {one}");
        }
    }

    #[test]
    fn ex05_25_collision_messages_quote_both_paths_in_order() {
        assert_eq!(
            first_collision(&[&p("a"), &p("c"), &p("a.b")]).as_deref(),
            Some(
                "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]"
            )
        );
        assert_eq!(
            first_collision(&[&p("a.b"), &p("a[1]")]).as_deref(),
            Some(
                "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, b], path two: [a, [1]]"
            )
        );
        assert_eq!(first_collision(&[&p("a.b"), &p("a.c"), &p("d")]), None);
    }
}
