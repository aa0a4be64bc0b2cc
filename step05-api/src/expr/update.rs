//! Applying an UpdateExpression to an item, with DynamoDB's rules.
//!
//! Order of work, and why:
//!
//! 1. No action may target a key attribute.
//! 2. Every `SET` right-hand side is evaluated against the item *before*
//!    the update, so `SET a = b, b = a` swaps.
//! 3. The actions run clause by clause on a copy: `SET` in path order (so
//!    several indexes past the end of one list are appended in index
//!    order), `REMOVE` in reverse path order (so list indexes refer to
//!    positions before any removal), then `ADD` and `DELETE`.
//! 4. The result must still be a valid item of at most 400 KB.
//!
//! The parser already refused overlapping paths, so no two actions touch
//! the same value and the clause order cannot change the result.
//!
//! An `ADD` or `DELETE` of a set onto a stored set of another type (a
//! number set into a string set) is refused with `Type mismatch for
//! attribute to update`, the message DynamoDB uses for a value of the
//! wrong type in an update; other wrong operands get `An operand in the
//! update expression has an incorrect data type`.

use std::borrow::Cow;
use std::cmp::Ordering;

use step01_kv::size::check_item_size;
use step01_kv::value::{AttributeValue, Item, validate_item};

use super::ast::{Path, PathElement, SetValue, Term, Update};
use super::error::{ExprError, Result};
use super::path::resolve;

const MISSING_OPERAND: &str =
    "The provided expression refers to an attribute that does not exist in the item";
const WRONG_TYPE: &str = "An operand in the update expression has an incorrect data type";
/// `ADD` or `DELETE` of a set of one type to a stored set of another.
const SET_TYPE_MISMATCH: &str = "Type mismatch for attribute to update";
const INVALID_PATH: &str =
    "The document path provided in the update expression is invalid for update";

impl Update {
    /// Refuses an update that targets a key attribute of `key`, or a path
    /// inside one. It needs only the expression and the key, so a caller
    /// runs it before reading the item: DynamoDB rejects such an update
    /// even when its condition would fail.
    pub fn check_key_targets(&self, key: &Item) -> Result<()> {
        for path in self.target_paths() {
            let Some(name) = path.top_level().filter(|name| key.contains_key(*name)) else {
                continue;
            };
            // A key attribute is a scalar, so DynamoDB words a path into
            // one (`pk.x`, `pk[0]`) as a misuse of the key's type rather
            // than as an update of the key.
            let message = if path.elements.len() > 1 {
                format!(
                    "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: Key: {name}"
                )
            } else {
                format!(
                    "One or more parameter values were invalid: Cannot update attribute {name}. This attribute is part of the key"
                )
            };
            return Err(ExprError::validation(message));
        }
        Ok(())
    }

    /// The item after the update. `old` is the stored item, if any; `key`
    /// is the request's primary key as an item, which is both where a new
    /// item starts and the list of attributes that may not be updated.
    pub fn apply(&self, old: Option<&Item>, key: &Item) -> Result<Item> {
        self.check_key_targets(key)?;
        let before = old.cloned().unwrap_or_else(|| key.clone());
        let mut sets = Vec::with_capacity(self.set.len());
        for action in &self.set {
            sets.push((&action.path, set_value(&action.value, &before)?));
        }
        let mut after = before.clone();
        sets.sort_by(|a, b| path_order(a.0, b.0));
        for (path, value) in sets {
            set_at(&mut after, path, value)?;
        }
        let mut removals: Vec<&Path> = self.remove.iter().collect();
        removals.sort_by(|a, b| path_order(b, a));
        for path in removals {
            remove_at(&mut after, path, old.is_none())?;
        }
        for action in &self.add {
            let current = resolve(&after, &action.path);
            let value = add(current, &action.value.value)?;
            set_at(&mut after, &action.path, value)?;
        }
        for action in &self.delete {
            let Some(current) = resolve(&after, &action.path) else {
                continue;
            };
            match subtract(current, &action.value.value)? {
                Some(rest) => set_at(&mut after, &action.path, rest)?,
                None => remove_at(&mut after, &action.path, false)?,
            }
        }
        validate_item(&after)?;
        check_item_size(&after).map_err(|_| {
            ExprError::validation("Item size to update has exceeded the maximum allowed size")
        })?;
        Ok(after)
    }
}

/// Paths compared step by step: names by text, indexes by number.
fn path_order(a: &Path, b: &Path) -> Ordering {
    for (x, y) in a.elements.iter().zip(&b.elements) {
        let step = match (x, y) {
            (PathElement::Attribute { name: x, .. }, PathElement::Attribute { name: y, .. }) => {
                x.cmp(y)
            }
            (PathElement::Index(x), PathElement::Index(y)) => x.cmp(y),
            (PathElement::Attribute { .. }, PathElement::Index(_)) => Ordering::Less,
            (PathElement::Index(_), PathElement::Attribute { .. }) => Ordering::Greater,
        };
        if step != Ordering::Equal {
            return step;
        }
    }
    a.elements.len().cmp(&b.elements.len())
}

/// The value of a `SET` right-hand side, read from the old item.
fn set_value(value: &SetValue, before: &Item) -> Result<AttributeValue> {
    let (a, b, plus) = match value {
        SetValue::Term(term) => return Ok(term_value(term, before)?.into_owned()),
        SetValue::Plus(a, b) => (a, b, true),
        SetValue::Minus(a, b) => (a, b, false),
    };
    let a = term_value(a, before)?;
    let b = term_value(b, before)?;
    let (AttributeValue::N(a), AttributeValue::N(b)) = (a.as_ref(), b.as_ref()) else {
        return Err(ExprError::validation(WRONG_TYPE));
    };
    let result = if plus {
        a.checked_add(b)
    } else {
        a.checked_sub(b)
    };
    Ok(AttributeValue::N(result?))
}

fn term_value<'a>(term: &'a Term, before: &'a Item) -> Result<Cow<'a, AttributeValue>> {
    match term {
        Term::Path(path) => resolve(before, path)
            .map(Cow::Borrowed)
            .ok_or_else(|| ExprError::validation(MISSING_OPERAND)),
        Term::Value(literal) => Ok(Cow::Borrowed(&literal.value)),
        Term::IfNotExists(path, fallback) => match resolve(before, path) {
            Some(value) => Ok(Cow::Borrowed(value)),
            None => term_value(fallback, before),
        },
        Term::ListAppend(a, b) => {
            let a = term_value(a, before)?;
            let b = term_value(b, before)?;
            match (a.as_ref(), b.as_ref()) {
                (AttributeValue::L(a), AttributeValue::L(b)) => {
                    let mut list = a.clone();
                    list.extend(b.iter().cloned());
                    Ok(Cow::Owned(AttributeValue::L(list)))
                }
                _ => Err(ExprError::validation(WRONG_TYPE)),
            }
        }
    }
}

/// One step down, for writing.
fn step_mut<'a>(
    value: &'a mut AttributeValue,
    element: &PathElement,
) -> Option<&'a mut AttributeValue> {
    match (value, element) {
        (AttributeValue::M(map), PathElement::Attribute { name, .. }) => map.get_mut(name),
        (AttributeValue::L(list), PathElement::Index(index)) => {
            list.get_mut(usize::try_from(*index).ok()?)
        }
        _ => None,
    }
}

/// The container holding the last step of `path`, or `None` if some step
/// before it is missing. Top-level paths have no container value.
fn parent_mut<'a>(item: &'a mut Item, path: &Path) -> Option<Option<&'a mut AttributeValue>> {
    let (first, rest) = path.elements.split_first()?;
    let Some((_, between)) = rest.split_last() else {
        return Some(None);
    };
    let PathElement::Attribute { name, .. } = first else {
        return None;
    };
    let mut current = item.get_mut(name)?;
    for element in between {
        current = step_mut(current, element)?;
    }
    Some(Some(current))
}

/// Writes `value` at `path`: the parent must exist and be a container of
/// the right kind.
fn set_at(item: &mut Item, path: &Path, value: AttributeValue) -> Result<()> {
    let invalid = || ExprError::validation(INVALID_PATH);
    let last = path.elements.last().ok_or_else(invalid)?;
    match (parent_mut(item, path).ok_or_else(invalid)?, last) {
        (None, PathElement::Attribute { name, .. }) => {
            item.insert(name.clone(), value);
        }
        (Some(AttributeValue::M(map)), PathElement::Attribute { name, .. }) => {
            map.insert(name.clone(), value);
        }
        (Some(AttributeValue::L(list)), PathElement::Index(index)) => {
            set_list_element(list, *index, value);
        }
        _ => return Err(invalid()),
    }
    Ok(())
}

// ANCHOR: set_list_element
/// `SET list[index] = value`: replaces the element, or appends the value
/// when the index is at or past the end (no gaps are ever created).
fn set_list_element(list: &mut Vec<AttributeValue>, index: u32, value: AttributeValue) {
    // EXERCISE(05.24): replace the element at index, or push the value if the index is past the end
    match usize::try_from(index).ok().and_then(|i| list.get_mut(i)) {
        Some(slot) => *slot = value,
        None => list.push(value),
    }
    // END EXERCISE
}
// ANCHOR_END: set_list_element

/// Removes what `path` names; a missing leaf or index is a no-op. A
/// missing parent is an error, except when the item did not exist.
fn remove_at(item: &mut Item, path: &Path, new_item: bool) -> Result<()> {
    let Some(parent) = parent_mut(item, path) else {
        return if new_item {
            Ok(())
        } else {
            Err(ExprError::validation(INVALID_PATH))
        };
    };
    match (parent, path.elements.last()) {
        (None, Some(PathElement::Attribute { name, .. })) => {
            item.remove(name);
        }
        (Some(AttributeValue::M(map)), Some(PathElement::Attribute { name, .. })) => {
            map.remove(name);
        }
        (Some(AttributeValue::L(list)), Some(PathElement::Index(index))) => {
            if let Ok(index) = usize::try_from(*index)
                && index < list.len()
            {
                list.remove(index);
            }
        }
        _ => return Err(ExprError::validation(INVALID_PATH)),
    }
    Ok(())
}

/// `ADD`: numbers add (missing counts as 0), sets unite (missing counts
/// as empty).
fn add(current: Option<&AttributeValue>, operand: &AttributeValue) -> Result<AttributeValue> {
    use AttributeValue as V;
    Ok(match (current, operand) {
        (None, operand) => operand.clone(),
        (Some(V::N(a)), V::N(b)) => V::N(a.checked_add(b)?),
        (Some(V::Ss(a)), V::Ss(b)) => V::Ss(a.union(b).cloned().collect()),
        (Some(V::Ns(a)), V::Ns(b)) => V::Ns(a.union(b).cloned().collect()),
        (Some(V::Bs(a)), V::Bs(b)) => V::Bs(a.union(b).cloned().collect()),
        (Some(current), operand) => return Err(mismatch(current, operand)),
    })
}

/// The error of an `ADD` or `DELETE` whose operand does not fit the
/// stored value: a set of another type is a *mismatch*, as DynamoDB words
/// it; anything else an operand of the wrong type.
fn mismatch(current: &AttributeValue, operand: &AttributeValue) -> ExprError {
    let is_set = |value: &AttributeValue| {
        matches!(
            value,
            AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_)
        )
    };
    if is_set(current) && is_set(operand) {
        ExprError::validation(SET_TYPE_MISMATCH)
    } else {
        ExprError::validation(WRONG_TYPE)
    }
}

/// `DELETE`: set difference; `None` when nothing is left (DynamoDB has no
/// empty sets, so the attribute goes).
fn subtract(current: &AttributeValue, operand: &AttributeValue) -> Result<Option<AttributeValue>> {
    use AttributeValue as V;
    let rest = match (current, operand) {
        (V::Ss(a), V::Ss(b)) => V::Ss(a.difference(b).cloned().collect()),
        (V::Ns(a), V::Ns(b)) => V::Ns(a.difference(b).cloned().collect()),
        (V::Bs(a), V::Bs(b)) => V::Bs(a.difference(b).cloned().collect()),
        _ => return Err(mismatch(current, operand)),
    };
    let empty = match &rest {
        V::Ss(set) => set.is_empty(),
        V::Ns(set) => set.is_empty(),
        V::Bs(set) => set.is_empty(),
        _ => false,
    };
    Ok((!empty).then_some(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> AttributeValue {
        AttributeValue::S(text.to_string())
    }

    #[test]
    fn ex05_24_set_past_the_end_of_a_list_appends() {
        let mut list = vec![s("a"), s("b")];
        set_list_element(&mut list, 1, s("B"));
        assert_eq!(list, vec![s("a"), s("B")]);
        set_list_element(&mut list, 2, s("c"));
        set_list_element(&mut list, 100, s("d"));
        set_list_element(&mut list, u32::MAX, s("e"));
        assert_eq!(list, vec![s("a"), s("B"), s("c"), s("d"), s("e")]);
    }

    #[test]
    fn ex05_24_set_into_an_empty_list_appends() {
        let mut list = Vec::new();
        set_list_element(&mut list, 0, s("x"));
        set_list_element(&mut list, 0, s("y"));
        assert_eq!(list, vec![s("y")]);
    }
}
