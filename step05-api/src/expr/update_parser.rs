//! The UpdateExpression grammar:
//!
//! ```text
//! update     := clause+        -- SET, REMOVE, ADD, DELETE, each at most once
//! clause     := SET set_action ("," set_action)*
//!             | REMOVE path ("," path)*
//!             | ADD path value ("," path value)*
//!             | DELETE path value ("," path value)*
//! set_action := path "=" term [ ("+" | "-") term ]
//! term       := path | value | if_not_exists(path, term) | list_append(term, term)
//! ```
//!
//! Besides the grammar, the static rules: operand types of literals (`+`
//! needs numbers, `list_append` lists, `ADD` a number or a set, `DELETE` a
//! set), and no two actions on overlapping or conflicting paths.

use step01_kv::value::AttributeValue;

use super::ast::{Literal, Path, SetAction, SetValue, Term, Update, ValueAction};
use super::error::Result;
use super::lexer::TokenKind;
use super::names::{ExpressionContext, ExpressionKind};
use super::parser::{
    Check, Expr, FUNCTIONS, Parser, incorrect_operand, misused, operand_count, requires_path,
    stand_in,
};
use super::path::first_collision;

impl ExpressionContext {
    /// Parses an UpdateExpression, resolving its placeholders.
    pub fn parse_update(&mut self, text: &str) -> Result<Update> {
        let mut parser = Parser::new(text, ExpressionKind::Update, self)?;
        let (update, targets) = parser.parse_update()?;
        parser.finish()?;
        let targets: Vec<&Path> = targets.iter().collect();
        if let Some(message) = first_collision(&targets) {
            return Err(ExpressionKind::Update.error(message));
        }
        Ok(update)
    }
}

/// The four clauses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Clause {
    Set,
    Remove,
    Add,
    Delete,
}

impl Clause {
    const ALL: [Clause; 4] = [Clause::Set, Clause::Remove, Clause::Add, Clause::Delete];

    fn keyword(self) -> &'static str {
        match self {
            Clause::Set => "SET",
            Clause::Remove => "REMOVE",
            Clause::Add => "ADD",
            Clause::Delete => "DELETE",
        }
    }
}

impl Parser<'_> {
    /// The update and its target paths in written order.
    fn parse_update(&mut self) -> Result<(Update, Vec<Path>)> {
        let mut update = Update::default();
        let mut seen = Vec::new();
        let mut targets = Vec::new();
        // Bounded: each round consumes a keyword and at least one action.
        while *self.peek() != TokenKind::Eof {
            let Some(clause) = Clause::ALL
                .into_iter()
                .find(|c| self.at_keyword(c.keyword()))
            else {
                return Err(self.syntax_error());
            };
            if seen.contains(&clause) {
                return Err(self.kind.error(format!(
                    "The \"{}\" section can only be used once in an update expression;",
                    clause.keyword()
                )));
            }
            seen.push(clause);
            self.advance();
            loop {
                let path = self.parse_path()?;
                targets.push(path.clone());
                match clause {
                    Clause::Set => {
                        self.expect(&TokenKind::Eq)?;
                        let value = self.parse_set_value()?;
                        update.set.push(SetAction { path, value });
                    }
                    Clause::Remove => update.remove.push(path),
                    Clause::Add => {
                        let value = self.parse_literal()?;
                        self.check_action_operand("ADD", &value, true);
                        update.add.push(ValueAction { path, value });
                    }
                    Clause::Delete => {
                        let value = self.parse_literal()?;
                        self.check_action_operand("DELETE", &value, false);
                        update.delete.push(ValueAction { path, value });
                    }
                }
                if *self.peek() != TokenKind::Comma {
                    break;
                }
                self.advance();
            }
        }
        Ok((update, targets))
    }

    /// `term [ ("+" | "-") term ]`.
    fn parse_set_value(&mut self) -> Result<SetValue> {
        let first = self.parse_term()?;
        let first = self.term(first);
        let operator = match self.peek() {
            TokenKind::Plus => "+",
            TokenKind::Minus => "-",
            _ => return Ok(SetValue::Term(first)),
        };
        self.advance();
        let second = self.parse_term()?;
        let second = self.term(second);
        for term in [&first, &second] {
            if let Term::Value(literal) = term
                && !matches!(literal.value, AttributeValue::N(_))
                && !literal.placeholder.is_empty()
            {
                self.defer(
                    Check::OperandType,
                    incorrect_operand(operator, &literal.value),
                );
            }
        }
        Ok(if operator == "+" {
            SetValue::Plus(first, second)
        } else {
            SetValue::Minus(first, second)
        })
    }

    /// A generic term as an update term.
    fn term(&mut self, expr: Expr) -> Term {
        match expr {
            Expr::Path(path) => Term::Path(path),
            Expr::Value(literal) => Term::Value(literal),
            Expr::Call { name, mut args } => {
                let known = matches!(name.as_str(), "if_not_exists" | "list_append");
                if !known {
                    if FUNCTIONS.contains(&name.as_str()) {
                        self.defer(Check::MisusedFunction, misused(&name));
                    }
                    return Term::Value(stand_in());
                }
                if args.len() != 2 {
                    self.defer(Check::OperandCount, operand_count(&name, args.len()));
                    return Term::Value(stand_in());
                }
                let second = args.pop().map(|arg| self.term(arg));
                let first = args.pop();
                let (Some(first), Some(second)) = (first, second) else {
                    return Term::Value(stand_in());
                };
                if name == "if_not_exists" {
                    let path = match first {
                        Expr::Path(path) => path,
                        other => {
                            let _ = self.term(other);
                            self.defer(Check::OperandType, requires_path(&name));
                            Path::attribute("")
                        }
                    };
                    return Term::IfNotExists(path, Box::new(second));
                }
                let first = self.term(first);
                for term in [&first, &second] {
                    if let Term::Value(literal) = term
                        && !matches!(literal.value, AttributeValue::L(_))
                        && !literal.placeholder.is_empty()
                    {
                        self.defer(
                            Check::OperandType,
                            incorrect_operand("list_append", &literal.value),
                        );
                    }
                }
                Term::ListAppend(Box::new(first), Box::new(second))
            }
        }
    }

    /// `ADD` takes a number or a set, `DELETE` a set; DynamoDB words this
    /// message differently from the others ("operator:", long type names).
    fn check_action_operand(&mut self, action: &str, literal: &Literal, numbers: bool) {
        let value = &literal.value;
        let fits = match value {
            AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_) => true,
            AttributeValue::N(_) => numbers,
            _ => false,
        };
        if !fits && !literal.placeholder.is_empty() {
            self.defer(
                Check::OperandType,
                format!(
                    "Incorrect operand type for operator or function; operator: {action}, operand type: {}",
                    long_type_name(value)
                ),
            );
        }
    }
}

/// DynamoDB's long type names, used by the ADD/DELETE messages.
pub(crate) fn long_type_name(value: &AttributeValue) -> &'static str {
    match value {
        AttributeValue::S(_) => "STRING",
        AttributeValue::N(_) => "NUMBER",
        AttributeValue::B(_) => "BINARY",
        AttributeValue::Bool(_) => "BOOLEAN",
        AttributeValue::Null => "NULL",
        AttributeValue::M(_) => "MAP",
        AttributeValue::L(_) => "LIST",
        AttributeValue::Ss(_) => "STRING_SET",
        AttributeValue::Ns(_) => "NUMBER_SET",
        AttributeValue::Bs(_) => "BINARY_SET",
    }
}
