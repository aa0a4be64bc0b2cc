//! The condition grammar (ConditionExpression, FilterExpression, and the
//! syntax of KeyConditionExpression), by recursive descent:
//!
//! ```text
//! condition := disjunct ( OR disjunct )*
//! disjunct  := conjunct ( AND conjunct )*
//! conjunct  := NOT conjunct | "(" condition ")" | predicate
//! ```
//!
//! Each rule handles one precedence level, so `NOT` binds tighter than
//! `AND`, which binds tighter than `OR`, and a comparison tighter than all
//! of them. The static rules about operands (arity, paths where paths are
//! required, literal types, distinct operands) are checked here too, so a
//! [`Condition`] that leaves this module is well-formed.

use step01_kv::value::AttributeValue;

use super::ast::{Comparator, Condition, Function, Literal, Operand, Path};
use super::error::Result;
use super::lexer::TokenKind;
use super::names::{ExpressionContext, ExpressionKind};
use super::parser::{
    Check, Expr, FUNCTIONS, Parser, incorrect_operand, misused, operand_count, requires_path,
    stand_in,
};
use super::path::describe;

/// Most entries of an `IN` list (DynamoDB counts the left operand too,
/// and allows 100 operands in all).
pub const IN_LIST_ENTRIES_MAX: usize = 99;

/// The type names `attribute_type` accepts.
pub const TYPE_NAMES: [&str; 10] = ["S", "SS", "N", "NS", "B", "BS", "BOOL", "NULL", "L", "M"];

impl ExpressionContext {
    /// Parses a ConditionExpression or FilterExpression (`kind` names it
    /// in error messages), resolving its placeholders.
    pub fn parse_condition(&mut self, text: &str, kind: ExpressionKind) -> Result<Condition> {
        let mut parser = Parser::new(text, kind, self)?;
        let condition = parser.parse_condition()?;
        parser.finish()?;
        Ok(condition)
    }
}

impl Parser<'_> {
    // ANCHOR: precedence
    /// `condition := disjunct ( OR disjunct )*`, left-associative.
    pub(crate) fn parse_condition(&mut self) -> Result<Condition> {
        let mut left = self.parse_disjunct()?;
        while self.at_keyword("OR") {
            self.advance();
            self.count_operator();
            let right = self.parse_disjunct()?;
            left = Condition::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    /// `disjunct := conjunct ( AND conjunct )*`, left-associative.
    fn parse_disjunct(&mut self) -> Result<Condition> {
        // EXERCISE(05.21): parse conjuncts joined by AND (left-associative), counting each AND as an operator
        let mut left = self.parse_conjunct()?;
        while self.at_keyword("AND") {
            self.advance();
            self.count_operator();
            let right = self.parse_conjunct()?;
            left = Condition::And(Box::new(left), Box::new(right));
        }
        Ok(left)
        // END EXERCISE
    }

    /// `conjunct := NOT conjunct | "(" condition ")" | predicate`.
    fn parse_conjunct(&mut self) -> Result<Condition> {
        if self.at_keyword("NOT") {
            self.advance();
            self.count_operator();
            self.enter()?;
            let inner = self.parse_conjunct()?;
            self.leave();
            return Ok(Condition::Not(Box::new(inner)));
        }
        if *self.peek() == TokenKind::LParen && !self.parenthesised_operand() {
            return self.parse_parenthesised();
        }
        self.parse_predicate()
    }
    // ANCHOR_END: precedence

    /// `"(" condition ")"`; `((…))` with nothing else inside the outer
    /// pair is DynamoDB's "redundant parentheses".
    fn parse_parenthesised(&mut self) -> Result<Condition> {
        let open = self.position();
        let inner_close = if *self.peek_at(1) == TokenKind::LParen {
            self.matching_paren(open + 1)
        } else {
            None
        };
        self.advance();
        self.enter()?;
        let condition = self.parse_condition()?;
        self.leave();
        let close = self.position();
        self.expect(&TokenKind::RParen)?;
        if inner_close.is_some_and(|inner| inner + 1 == close) {
            self.defer(
                Check::RedundantParentheses,
                "The expression has redundant parentheses;".to_string(),
            );
        }
        Ok(condition)
    }

    /// Whether the `(` at the cursor encloses an operand (`(a) = :v`)
    /// rather than a condition: its `)` is followed by a comparator,
    /// `BETWEEN` or `IN`.
    fn parenthesised_operand(&self) -> bool {
        self.matching_paren(self.position()).is_some_and(|close| {
            let next = self.token_at(close + 1);
            comparator(next).is_some()
                || matches!(next, TokenKind::Word(w) if w.eq_ignore_ascii_case("BETWEEN") || w.eq_ignore_ascii_case("IN"))
        })
    }

    /// A comparison, `BETWEEN`, `IN`, or a boolean function.
    fn parse_predicate(&mut self) -> Result<Condition> {
        let left = self.parse_operand_term()?;
        if let Some(comparator) = comparator(self.peek()) {
            self.advance();
            self.count_operator();
            let right = self.parse_operand_term()?;
            return Ok(self.comparison(comparator, left, right));
        }
        if self.at_keyword("BETWEEN") {
            self.advance();
            self.count_operator();
            let low = self.parse_operand_term()?;
            if !self.at_keyword("AND") {
                return Err(self.syntax_error());
            }
            self.advance();
            let high = self.parse_operand_term()?;
            return Ok(self.between(left, low, high));
        }
        if self.at_keyword("IN") {
            self.advance();
            self.count_operator();
            self.expect(&TokenKind::LParen)?;
            let mut list = vec![self.parse_operand_term()?];
            // Bounded: every entry consumes at least one token.
            while *self.peek() == TokenKind::Comma {
                self.advance();
                list.push(self.parse_operand_term()?);
            }
            self.expect(&TokenKind::RParen)?;
            return Ok(self.in_list(left, list));
        }
        match left {
            Expr::Call { name, args } => Ok(self.function(&name, args)),
            _ => Err(self.syntax_error()),
        }
    }

    /// A term, optionally in one pair of parentheses.
    fn parse_operand_term(&mut self) -> Result<Expr> {
        if *self.peek() != TokenKind::LParen {
            return self.parse_term();
        }
        self.advance();
        let term = self.parse_term()?;
        self.expect(&TokenKind::RParen)?;
        Ok(term)
    }

    /// A term used as an operand: a path, a value or `size(…)`.
    pub(crate) fn operand(&mut self, expr: Expr) -> Operand {
        match expr {
            Expr::Path(path) => Operand::Path(path),
            Expr::Value(literal) => Operand::Value(literal),
            Expr::Call { name, mut args } if name == "size" => {
                if args.len() != 1 {
                    self.defer(Check::OperandCount, operand_count("size", args.len()));
                    return Operand::Value(stand_in());
                }
                let argument = self.operand(args.remove(0));
                if let Operand::Value(Literal { value, .. }) = &argument
                    && matches!(
                        value,
                        AttributeValue::N(_) | AttributeValue::Bool(_) | AttributeValue::Null
                    )
                    && !is_stand_in(&argument)
                {
                    self.defer(Check::OperandType, incorrect_operand("size", value));
                }
                Operand::Size(Box::new(argument))
            }
            Expr::Call { name, .. } => {
                if FUNCTIONS.contains(&name.as_str()) {
                    self.defer(Check::MisusedFunction, misused(&name));
                }
                Operand::Value(stand_in())
            }
        }
    }

    /// A term that must be a path (`attribute_exists(p)`, …).
    fn path_argument(&mut self, function: &str, expr: Expr) -> Path {
        match expr {
            Expr::Path(path) => path,
            other => {
                // Still look inside, so nested problems are reported.
                let _ = self.operand(other);
                self.defer(Check::OperandType, requires_path(function));
                Path::attribute("")
            }
        }
    }

    // ANCHOR: static_checks
    /// `left comparator right`, with the static checks on its operands.
    fn comparison(&mut self, comparator: Comparator, left: Expr, right: Expr) -> Condition {
        let left = self.operand(left);
        let right = self.operand(right);
        self.check_distinct(comparator.symbol(), &left, std::slice::from_ref(&right));
        if !matches!(comparator, Comparator::Eq | Comparator::Ne) {
            for operand in [&left, &right] {
                self.check_orderable(comparator.symbol(), operand);
            }
        }
        Condition::Compare {
            comparator,
            left,
            right,
        }
    }
    // ANCHOR_END: static_checks

    fn between(&mut self, operand: Expr, low: Expr, high: Expr) -> Condition {
        let operand = self.operand(operand);
        let low = self.operand(low);
        let high = self.operand(high);
        self.check_distinct("BETWEEN", &operand, &[low.clone(), high.clone()]);
        for each in [&operand, &low, &high] {
            self.check_orderable("BETWEEN", each);
        }
        if let (Operand::Value(lower), Operand::Value(upper)) = (&low, &high)
            && !is_stand_in(&low)
            && !is_stand_in(&high)
        {
            let bounds = format!(
                "lower bound operand: AttributeValue: {}, upper bound operand: AttributeValue: {}",
                brief(&lower.value),
                brief(&upper.value)
            );
            match super::eval::order(&lower.value, &upper.value) {
                None => self.defer(
                    Check::OperandType,
                    format!(
                        "The BETWEEN operator requires same data type for lower and upper bounds; {bounds}"
                    ),
                ),
                Some(std::cmp::Ordering::Greater) => self.defer(
                    Check::OperandType,
                    format!(
                        "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; {bounds}"
                    ),
                ),
                Some(_) => {}
            }
        }
        Condition::Between { operand, low, high }
    }

    fn in_list(&mut self, operand: Expr, list: Vec<Expr>) -> Condition {
        let operand = self.operand(operand);
        let list: Vec<Operand> = list.into_iter().map(|each| self.operand(each)).collect();
        if list.len() > IN_LIST_ENTRIES_MAX {
            self.defer(
                Check::OperandCount,
                format!(
                    "The IN operator is provided with too many operands; number of operands: {}",
                    list.len() + 1
                ),
            );
        }
        self.check_distinct("IN", &operand, &list);
        Condition::In { operand, list }
    }

    /// A call standing as a condition by itself.
    fn function(&mut self, name: &str, mut args: Vec<Expr>) -> Condition {
        let arity = match name {
            "attribute_exists" | "attribute_not_exists" => 1,
            "attribute_type" | "begins_with" | "contains" => 2,
            other => {
                if FUNCTIONS.contains(&other) {
                    self.defer(Check::MisusedFunction, misused(other));
                }
                return stand_in_condition();
            }
        };
        if args.len() != arity {
            self.defer(Check::OperandCount, operand_count(name, args.len()));
            return stand_in_condition();
        }
        let second = if arity == 2 { args.pop() } else { None };
        let first = args.pop();
        let (Some(first), second) = (first, second) else {
            return stand_in_condition();
        };
        let function = match (name, second) {
            ("attribute_exists", _) => Function::AttributeExists(self.path_argument(name, first)),
            ("attribute_not_exists", _) => {
                Function::AttributeNotExists(self.path_argument(name, first))
            }
            ("attribute_type", Some(second)) => {
                let path = self.path_argument(name, first);
                Function::AttributeType(path, self.type_name_argument(second))
            }
            (_, Some(second)) => {
                let first = self.operand(first);
                let second = self.operand(second);
                self.check_distinct(name, &first, std::slice::from_ref(&second));
                if name == "begins_with" {
                    for operand in [&first, &second] {
                        if let Operand::Value(Literal { value, .. }) = operand
                            && !matches!(value, AttributeValue::S(_) | AttributeValue::B(_))
                            && !is_stand_in(operand)
                        {
                            self.defer(Check::OperandType, incorrect_operand(name, value));
                        }
                    }
                    Function::BeginsWith(first, second)
                } else {
                    Function::Contains(first, second)
                }
            }
            _ => return stand_in_condition(),
        };
        Condition::Function(function)
    }

    /// The second argument of `attribute_type`: a value holding a type name.
    fn type_name_argument(&mut self, expr: Expr) -> Literal {
        let operand = self.operand(expr);
        let Operand::Value(literal) = operand else {
            self.defer(
                Check::OperandType,
                "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: PATH".to_string(),
            );
            return stand_in();
        };
        match &literal.value {
            AttributeValue::S(name) if TYPE_NAMES.contains(&name.as_str()) => {}
            AttributeValue::S(name) => self.defer(
                Check::OperandType,
                format!(
                    "Invalid attribute type name found; type: {name}, valid types: {{B,NULL,SS,BOOL,L,BS,N,NS,S,M}}"
                ),
            ),
            other if !literal.placeholder.is_empty() => {
                self.defer(Check::OperandType, incorrect_operand("attribute_type", other));
            }
            _ => {}
        }
        literal
    }

    /// `a = a`, `contains(a, a)`: the first operand must differ from the
    /// others (compared as resolved paths).
    fn check_distinct(&mut self, operator: &str, first: &Operand, rest: &[Operand]) {
        let Operand::Path(path) = first else {
            return;
        };
        let same = rest
            .iter()
            .any(|other| matches!(other, Operand::Path(p) if describe(p) == describe(path)));
        if same {
            self.defer(
                Check::DistinctOperands,
                format!(
                    "The first operand must be distinct from the remaining operands for this operator or function; operator: {operator}, first operand: {}",
                    describe(path)
                ),
            );
        }
    }

    /// A literal compared by order must be a string, number or binary.
    fn check_orderable(&mut self, operator: &str, operand: &Operand) {
        if let Operand::Value(Literal { value, .. }) = operand
            && !matches!(
                value,
                AttributeValue::S(_) | AttributeValue::N(_) | AttributeValue::B(_)
            )
            && !is_stand_in(operand)
        {
            self.defer(Check::OperandType, incorrect_operand(operator, value));
        }
    }
}

/// The comparator a token is, if it is one.
fn comparator(token: &TokenKind) -> Option<Comparator> {
    Some(match token {
        TokenKind::Eq => Comparator::Eq,
        TokenKind::Ne => Comparator::Ne,
        TokenKind::Lt => Comparator::Lt,
        TokenKind::Le => Comparator::Le,
        TokenKind::Gt => Comparator::Gt,
        TokenKind::Ge => Comparator::Ge,
        _ => return None,
    })
}

/// Whether an operand is the stand-in for something already reported.
fn is_stand_in(operand: &Operand) -> bool {
    matches!(operand, Operand::Value(literal) if literal.placeholder.is_empty())
}

fn stand_in_condition() -> Condition {
    Condition::Function(Function::AttributeExists(Path::attribute("")))
}

/// A value as DynamoDB quotes it in BETWEEN errors: `{N:1}`.
fn brief(value: &AttributeValue) -> String {
    let json = serde_json::to_value(value).unwrap_or_default();
    let payload = json
        .as_object()
        .and_then(|members| members.values().next())
        .map(|payload| match payload {
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        })
        .unwrap_or_default();
    format!("{{{}:{payload}}}", value.type_name())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> ExpressionContext {
        ExpressionContext::new(
            Some(&json!({"#n": "first-name", "#s": "status"})),
            Some(&json!({":s": {"S": "x"}, ":n": {"N": "1"}, ":b": {"BOOL": true}})),
        )
        .unwrap()
    }

    /// The tree, fully parenthesised, so tests can see its shape.
    fn shape(condition: &Condition) -> String {
        match condition {
            Condition::Or(a, b) => format!("(OR {} {})", shape(a), shape(b)),
            Condition::And(a, b) => format!("(AND {} {})", shape(a), shape(b)),
            Condition::Not(a) => format!("(NOT {})", shape(a)),
            other => other.to_string().replace(' ', ""),
        }
    }

    fn parse(text: &str) -> Result<Condition> {
        ctx().parse_condition(text, ExpressionKind::Condition)
    }

    #[test]
    fn ex05_21_and_binds_tighter_than_or_and_not_tighter_than_and() {
        let table = [
            ("a = :s OR b = :s AND c = :s", "(OR a=:s (AND b=:s c=:s))"),
            ("a = :s AND b = :s OR c = :s", "(OR (AND a=:s b=:s) c=:s)"),
            ("NOT a = :s AND b = :s", "(AND (NOT a=:s) b=:s)"),
            ("NOT a = :s OR NOT b = :s", "(OR (NOT a=:s) (NOT b=:s))"),
            ("a = :s and b = :s and c = :s", "(AND (AND a=:s b=:s) c=:s)"),
            ("(a = :s OR b = :s) AND c = :s", "(AND (OR a=:s b=:s) c=:s)"),
            ("NOT (a = :s AND b = :s)", "(NOT (AND a=:s b=:s))"),
            ("a = :s or b = :s or c = :s", "(OR (OR a=:s b=:s) c=:s)"),
        ];
        for (text, expected) in table {
            assert_eq!(shape(&parse(text).unwrap()), expected, "{text}");
        }
    }

    #[test]
    fn ex05_21_every_and_counts_towards_the_operator_limit() {
        let mut text = String::from("a = :s");
        for _ in 0..150 {
            text.push_str(" AND a = :s");
        }
        // 151 comparisons and 150 ANDs.
        assert_eq!(
            parse(&text).unwrap_err().message(),
            "Invalid ConditionExpression: The expression contains too many operators; operator count: 301"
        );
        let text = text.replacen(" AND a = :s", "", 1);
        let shape = shape(&parse(&text).unwrap());
        assert!(shape.starts_with("(AND (AND"), "{shape}");
    }

    #[test]
    fn parses_every_predicate_form() {
        let table = [
            ("a.b[2].#n <> :s", "a.b[2].#n <> :s"),
            ("size(a) >= :n", "size(a) >= :n"),
            ("a BETWEEN :n AND :n", "a BETWEEN :n AND :n"),
            ("a in (:s, :n, b)", "a IN (:s, :n, b)"),
            ("attribute_exists(#s)", "attribute_exists(#s)"),
            ("begins_with(a, :s)", "begins_with(a, :s)"),
            ("contains(a, b)", "contains(a, b)"),
            ("(a) = (:s)", "a = :s"),
            ("((a = :s) AND b = :s)", "a = :s AND b = :s"),
            ("NOT NOT a = :s", "NOT NOT a = :s"),
        ];
        for (text, printed) in table {
            assert_eq!(parse(text).unwrap().to_string(), printed, "{text}");
        }
    }

    #[test]
    fn resolves_names_literally() {
        let condition = parse("#n = :s").unwrap();
        let Condition::Compare {
            left: Operand::Path(path),
            ..
        } = condition
        else {
            panic!("not a comparison");
        };
        assert_eq!(path.top_level(), Some("first-name"));
    }
}
