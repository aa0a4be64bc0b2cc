//! ProjectionExpression: parsing a list of paths, and cutting an item
//! down to them.
//!
//! The projected item keeps the structure of the original: `b.c` gives
//! `{b: {c: …}}`, and list indexes give a list holding just the selected
//! elements, in index order (so `l[3], l[1]` gives `[l[1], l[3]]`).
//! Paths that name nothing are skipped; a container left with nothing
//! selected is left out.

use std::collections::BTreeMap;

use step01_kv::value::{AttributeValue, Item};

use super::ast::{Path, PathElement};
use super::error::Result;
use super::lexer::TokenKind;
use super::names::{ExpressionContext, ExpressionKind};
use super::parser::Parser;
use super::path::first_collision;

impl ExpressionContext {
    /// Parses a ProjectionExpression: `path ("," path)*`, no two paths
    /// overlapping or conflicting.
    pub fn parse_projection(&mut self, text: &str) -> Result<Vec<Path>> {
        let mut parser = Parser::new(text, ExpressionKind::Projection, self)?;
        let mut paths = vec![parser.parse_path()?];
        // Bounded: each round consumes a comma and a path.
        while *parser.peek() == TokenKind::Comma {
            parser.advance();
            paths.push(parser.parse_path()?);
        }
        parser.finish()?;
        let refs: Vec<&Path> = paths.iter().collect();
        if let Some(message) = first_collision(&refs) {
            return Err(ExpressionKind::Projection.error(message));
        }
        Ok(paths)
    }
}

/// What to keep of one value: all of it, or some keys of a map or some
/// elements of a list.
#[derive(Debug, Default)]
enum Selection {
    #[default]
    Whole,
    Keys(BTreeMap<String, Selection>),
    Elements(BTreeMap<u32, Selection>),
}

// ANCHOR: project
/// The parts of `item` that `paths` name, nested as in the item.
pub fn project(item: &Item, paths: &[Path]) -> Item {
    let mut top: BTreeMap<String, Selection> = BTreeMap::new();
    for path in paths {
        let mut elements = path.elements.iter();
        let Some(PathElement::Attribute { name, .. }) = elements.next() else {
            continue;
        };
        let mut selection = top.entry(name.clone()).or_default();
        for element in elements {
            selection = descend(selection, element);
        }
        // The path's last step keeps its whole value.
        *selection = Selection::Whole;
    }
    let mut projected = Item::new();
    for (name, selection) in &top {
        if let Some(value) = item.get(name).and_then(|value| select(value, selection)) {
            projected.insert(name.clone(), value);
        }
    }
    projected
}
// ANCHOR_END: project

/// The child selection for one path step, created as needed.
fn descend<'a>(selection: &'a mut Selection, element: &PathElement) -> &'a mut Selection {
    let fresh_child = || Selection::Keys(BTreeMap::new());
    match element {
        PathElement::Attribute { name, .. } => {
            if !matches!(selection, Selection::Keys(_)) {
                *selection = Selection::Keys(BTreeMap::new());
            }
            match selection {
                Selection::Keys(keys) => keys.entry(name.clone()).or_insert_with(fresh_child),
                other => other,
            }
        }
        PathElement::Index(index) => {
            if !matches!(selection, Selection::Elements(_)) {
                *selection = Selection::Elements(BTreeMap::new());
            }
            match selection {
                Selection::Elements(elements) => elements.entry(*index).or_insert_with(fresh_child),
                other => other,
            }
        }
    }
}

/// The selected part of `value`, or `None` if nothing selected exists.
fn select(value: &AttributeValue, selection: &Selection) -> Option<AttributeValue> {
    match (selection, value) {
        (Selection::Whole, value) => Some(value.clone()),
        (Selection::Keys(keys), AttributeValue::M(map)) => {
            let picked: BTreeMap<String, AttributeValue> = keys
                .iter()
                .filter_map(|(key, sub)| Some((key.clone(), select(map.get(key)?, sub)?)))
                .collect();
            (!picked.is_empty()).then_some(AttributeValue::M(picked))
        }
        (Selection::Elements(indexes), AttributeValue::L(list)) => {
            let picked: Vec<AttributeValue> = indexes
                .iter()
                .filter_map(|(index, sub)| select(list.get(usize::try_from(*index).ok()?)?, sub))
                .collect();
            (!picked.is_empty()).then_some(AttributeValue::L(picked))
        }
        _ => None,
    }
}
