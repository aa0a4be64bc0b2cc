//! DynamoDB's expression languages: condition and filter expressions, key
//! conditions, update expressions and projections, plus the legacy
//! parameters they replaced, all on one syntax tree.
//!
//! The path of an expression through this module:
//!
//! 1. [`lexer`] splits the text into tokens (it never fails);
//! 2. a hand-written recursive-descent parser ([`parser`] for what all
//!    languages share, [`condition`], [`update_parser`], [`projection`],
//!    [`key_condition`]) builds an [`ast`] tree, resolving placeholders
//!    through the request's [`ExpressionContext`] and checking every rule
//!    that needs no data, with DynamoDB's messages and error precedence;
//! 3. the tree is applied to data: [`eval`] decides conditions,
//!    [`update`] applies updates, [`projection`] cuts items down.
//!
//! [`legacy`] translates the pre-2014 parameters (`Expected`,
//! `KeyConditions`, `QueryFilter`, `AttributeUpdates`, …) into the same
//! trees, so there is one evaluator. Every error is an [`ExprError`]
//! carrying DynamoDB's exact message.

pub mod ast;
pub mod condition;
pub mod error;
pub mod eval;
pub mod key_condition;
pub mod legacy;
pub mod lexer;
pub mod names;
pub mod parser;
pub mod path;
mod print;
pub mod projection;
pub mod reserved;
pub mod update;
pub mod update_parser;

pub use ast::{
    Comparator, Condition, Function, Literal, Operand, Path, PathElement, SetAction, SetValue,
    Term, Update, ValueAction,
};
pub use error::ExprError;
pub use key_condition::KeyCondition;
pub use names::{ExpressionContext, ExpressionKind};
pub use projection::project;
