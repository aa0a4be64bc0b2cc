//! The syntax tree every expression language parses into, and that the
//! legacy parameters are translated into.
//!
//! Placeholders are resolved while parsing: a path element holds the real
//! attribute name and a value operand the real [`AttributeValue`]. Each
//! also remembers the placeholder it was written with, so that
//! [`std::fmt::Display`] (in `print.rs`) prints canonical text that parses
//! back to the same tree in the same [`super::ExpressionContext`].
//!
//! Invariant: a tree built by the parser has passed every static check
//! (arity, operand kinds, literal types), so evaluation only meets
//! questions about the item's data.

use step01_kv::value::AttributeValue;

/// One step of a document path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathElement {
    /// A top-level attribute or a map key. `placeholder` is the `#name`
    /// it was written as (`None`: written bare, or built by the legacy
    /// translation).
    Attribute {
        name: String,
        placeholder: Option<String>,
    },
    /// A list index, `[n]`.
    Index(u32),
}

/// A document path such as `a.b[3].#c`. Never empty, and always starts
/// with an [`PathElement::Attribute`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path {
    pub elements: Vec<PathElement>,
}

impl Path {
    /// A one-element path naming a top-level attribute (legacy
    /// parameters, key attributes).
    pub fn attribute(name: &str) -> Path {
        Path {
            elements: vec![PathElement::Attribute {
                name: name.to_string(),
                placeholder: None,
            }],
        }
    }

    /// The name of the top-level attribute the path starts in.
    pub fn top_level(&self) -> Option<&str> {
        match self.elements.first() {
            Some(PathElement::Attribute { name, .. }) => Some(name),
            _ => None,
        }
    }
}

/// A value written as a `:value` placeholder, with the value it stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Literal {
    pub placeholder: String,
    pub value: AttributeValue,
}

/// Something that has a value (or none) when evaluated against an item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operand {
    Path(Path),
    Value(Literal),
    /// `size(operand)`: a number, or no value for types without a size.
    Size(Box<Operand>),
}

/// The six comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Comparator {
    /// The operator as written in an expression.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparator::Eq => "=",
            Comparator::Ne => "<>",
            Comparator::Lt => "<",
            Comparator::Le => "<=",
            Comparator::Gt => ">",
            Comparator::Ge => ">=",
        }
    }

    /// The operator that gives the same answer with its operands swapped
    /// (`:v < sk` is `sk > :v`).
    pub fn flipped(self) -> Comparator {
        match self {
            Comparator::Lt => Comparator::Gt,
            Comparator::Le => Comparator::Ge,
            Comparator::Gt => Comparator::Lt,
            Comparator::Ge => Comparator::Le,
            same => same,
        }
    }
}

/// The functions that are conditions by themselves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Function {
    AttributeExists(Path),
    AttributeNotExists(Path),
    /// The literal is an `S` holding one of the ten type names.
    AttributeType(Path, Literal),
    BeginsWith(Operand, Operand),
    Contains(Operand, Operand),
}

/// A ConditionExpression, FilterExpression or KeyConditionExpression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    Compare {
        comparator: Comparator,
        left: Operand,
        right: Operand,
    },
    /// `operand BETWEEN low AND high`, both bounds included.
    Between {
        operand: Operand,
        low: Operand,
        high: Operand,
    },
    /// `operand IN (list…)`, 1 to 99 entries.
    In {
        operand: Operand,
        list: Vec<Operand>,
    },
    Function(Function),
    Not(Box<Condition>),
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
}

/// One operand of the right-hand side of a `SET` action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Term {
    Path(Path),
    Value(Literal),
    /// `if_not_exists(path, term)`: the value at the path, or the term's.
    IfNotExists(Path, Box<Term>),
    /// `list_append(a, b)`: the elements of `a`, then those of `b`.
    ListAppend(Box<Term>, Box<Term>),
}

/// The right-hand side of a `SET` action: at most one `+` or `-`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetValue {
    Term(Term),
    Plus(Term, Term),
    Minus(Term, Term),
}

/// `SET path = value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetAction {
    pub path: Path,
    pub value: SetValue,
}

/// `ADD path :v` or `DELETE path :v`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueAction {
    pub path: Path,
    pub value: Literal,
}

/// An UpdateExpression: its four clauses, each possibly empty, actions in
/// the order written. At least one action is present.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Update {
    pub set: Vec<SetAction>,
    pub remove: Vec<Path>,
    pub add: Vec<ValueAction>,
    pub delete: Vec<ValueAction>,
}

impl Update {
    /// Every path the update writes, clause by clause in the order
    /// SET, REMOVE, ADD, DELETE.
    pub fn target_paths(&self) -> Vec<&Path> {
        let set = self.set.iter().map(|action| &action.path);
        let remove = self.remove.iter();
        let add = self.add.iter().map(|action| &action.path);
        let delete = self.delete.iter().map(|action| &action.path);
        set.chain(remove).chain(add).chain(delete).collect()
    }

    /// Whether the update has no action at all (an empty
    /// `AttributeUpdates`; an UpdateExpression always has one).
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
            && self.remove.is_empty()
            && self.add.is_empty()
            && self.delete.is_empty()
    }
}
