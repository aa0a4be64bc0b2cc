//! Canonical text for every tree: what [`std::fmt::Display`] prints parses
//! back to the same tree (in the same context).
//!
//! Canonical means: single spaces, keywords upper-case, placeholders as
//! written, and parentheses only where precedence needs them. Conditions
//! are printed by precedence level: an `OR` inside an `AND`, or any
//! binary connective under a `NOT`, gets parentheses; the right operand of
//! a connective of its own kind does too, because parsing is
//! left-associative.

use std::fmt::{self, Display, Formatter, Write as _};

use super::ast::{
    Condition, Function, Literal, Operand, Path, PathElement, SetAction, SetValue, Term, Update,
    ValueAction,
};

impl Display for Path {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (position, element) in self.elements.iter().enumerate() {
            match element {
                PathElement::Attribute { name, placeholder } => {
                    if position > 0 {
                        f.write_char('.')?;
                    }
                    f.write_str(placeholder.as_deref().unwrap_or(name))?;
                }
                PathElement::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

impl Display for Literal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(&self.placeholder)
    }
}

impl Display for Operand {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Path(path) => path.fmt(f),
            Operand::Value(literal) => literal.fmt(f),
            Operand::Size(inner) => write!(f, "size({inner})"),
        }
    }
}

impl Display for Function {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Function::AttributeExists(path) => write!(f, "attribute_exists({path})"),
            Function::AttributeNotExists(path) => write!(f, "attribute_not_exists({path})"),
            Function::AttributeType(path, literal) => {
                write!(f, "attribute_type({path}, {literal})")
            }
            Function::BeginsWith(a, b) => write!(f, "begins_with({a}, {b})"),
            Function::Contains(a, b) => write!(f, "contains({a}, {b})"),
        }
    }
}

/// Precedence levels, loosest first.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Or,
    And,
    Not,
}

fn level(condition: &Condition) -> Option<Level> {
    match condition {
        Condition::Or(..) => Some(Level::Or),
        Condition::And(..) => Some(Level::And),
        Condition::Not(..) => Some(Level::Not),
        _ => None,
    }
}

/// Prints `condition`, in parentheses if it binds looser than `context`
/// (or as loosely, when `strict`).
fn child(
    f: &mut Formatter<'_>,
    condition: &Condition,
    context: Level,
    strict: bool,
) -> fmt::Result {
    let wrap = level(condition).is_some_and(|own| own < context || (strict && own == context));
    if wrap {
        write!(f, "({condition})")
    } else {
        write!(f, "{condition}")
    }
}

impl Display for Condition {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Condition::Compare {
                comparator,
                left,
                right,
            } => write!(f, "{left} {} {right}", comparator.symbol()),
            Condition::Between { operand, low, high } => {
                write!(f, "{operand} BETWEEN {low} AND {high}")
            }
            Condition::In { operand, list } => {
                write!(f, "{operand} IN (")?;
                for (position, entry) in list.iter().enumerate() {
                    if position > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{entry}")?;
                }
                f.write_char(')')
            }
            Condition::Function(function) => function.fmt(f),
            Condition::Not(inner) => {
                f.write_str("NOT ")?;
                // `NOT NOT a` needs no parentheses: NOT takes a conjunct.
                child(f, inner, Level::Not, false)
            }
            Condition::And(left, right) => {
                child(f, left, Level::And, false)?;
                f.write_str(" AND ")?;
                child(f, right, Level::And, true)
            }
            Condition::Or(left, right) => {
                child(f, left, Level::Or, false)?;
                f.write_str(" OR ")?;
                child(f, right, Level::Or, true)
            }
        }
    }
}

impl Display for Term {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Term::Path(path) => path.fmt(f),
            Term::Value(literal) => literal.fmt(f),
            Term::IfNotExists(path, term) => write!(f, "if_not_exists({path}, {term})"),
            Term::ListAppend(a, b) => write!(f, "list_append({a}, {b})"),
        }
    }
}

impl Display for SetValue {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            SetValue::Term(term) => term.fmt(f),
            SetValue::Plus(a, b) => write!(f, "{a} + {b}"),
            SetValue::Minus(a, b) => write!(f, "{a} - {b}"),
        }
    }
}

impl Display for SetAction {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}", self.path, self.value)
    }
}

impl Display for ValueAction {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.path, self.value)
    }
}

/// Writes one clause: the keyword and its comma-separated actions.
fn clause<T: Display>(
    f: &mut Formatter<'_>,
    first: &mut bool,
    keyword: &str,
    actions: &[T],
) -> fmt::Result {
    if actions.is_empty() {
        return Ok(());
    }
    if !*first {
        f.write_char(' ')?;
    }
    *first = false;
    write!(f, "{keyword} ")?;
    for (position, action) in actions.iter().enumerate() {
        if position > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{action}")?;
    }
    Ok(())
}

impl Display for Update {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let mut first = true;
        clause(f, &mut first, "SET", &self.set)?;
        clause(f, &mut first, "REMOVE", &self.remove)?;
        clause(f, &mut first, "ADD", &self.add)?;
        clause(f, &mut first, "DELETE", &self.delete)
    }
}
