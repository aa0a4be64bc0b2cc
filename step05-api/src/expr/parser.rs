//! What the three parsers (conditions, updates, projections) share: a
//! cursor over the tokens, document paths, placeholder resolution, generic
//! terms, and the bookkeeping of DynamoDB's error precedence.
//!
//! **Error precedence.** A syntax error is reported at once. Every other
//! problem (an unknown function, a reserved word, an undefined
//! placeholder…) is *deferred*: parsing goes on with a stand-in, and when
//! the whole text has parsed, the first problem of the highest-ranked
//! [`Check`] wins. That reproduces the order in which DynamoDB reports
//! problems of one expression: syntax, then redundant parentheses, unknown
//! functions, misused functions, reserved words, undefined placeholders,
//! operand counts, distinct operands, operand types.
//!
//! **Bounds.** The text is at most [`EXPRESSION_BYTES_MAX`] bytes, so there
//! are at most that many tokens; recursion (parentheses, `NOT`, function
//! arguments) is limited to [`NESTING_DEPTH_MAX`] levels.

use step01_kv::value::AttributeValue;

use super::ast::{Literal, Path, PathElement};
use super::error::{ExprError, Result};
use super::lexer::{Token, TokenKind, tokenize};
use super::names::{ExpressionContext, ExpressionKind};
use super::reserved::is_reserved;

/// Longest expression, in bytes of its text.
pub const EXPRESSION_BYTES_MAX: usize = 4096;
/// Most operators (comparisons, `BETWEEN`, `IN`, `AND`, `OR`, `NOT`) in
/// one condition.
pub const OPERATORS_MAX: usize = 300;
/// Deepest nesting of parentheses, `NOT`s and function calls. DynamoDB
/// documents no such limit; this one keeps the recursive parser's stack
/// small, and no sensible expression comes near it. An expression this
/// deep nearly always breaks one of DynamoDB's own rules too (too many
/// operators, redundant parentheses), and then gets that rule's error
/// (see [`Parser::enter`]); only what breaks none gets ours.
pub const NESTING_DEPTH_MAX: usize = 100;
/// Most steps (names and indexes) in one document path: a path cannot
/// reach deeper than an item may nest.
pub const PATH_DEPTH_MAX: usize = 32;

/// The keywords of all the languages. They are never attribute names,
/// even where the language at hand gives them no meaning.
const KEYWORDS: [&str; 9] = [
    "AND", "OR", "NOT", "BETWEEN", "IN", "SET", "REMOVE", "ADD", "DELETE",
];

/// The functions of all the languages (names are case-sensitive).
pub(crate) const FUNCTIONS: [&str; 8] = [
    "attribute_exists",
    "attribute_not_exists",
    "attribute_type",
    "begins_with",
    "contains",
    "size",
    "if_not_exists",
    "list_append",
];

/// The kinds of deferred problems, highest precedence first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Check {
    RedundantParentheses,
    UnknownFunction,
    MisusedFunction,
    ReservedWord,
    Undefined,
    OperandCount,
    DistinctOperands,
    OperandType,
}

const CHECKS: usize = 8;

/// A term before it is known what it is used as: a path, a value, or a
/// call of some function with any arguments.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Expr {
    Path(Path),
    Value(Literal),
    Call { name: String, args: Vec<Expr> },
}

/// The cursor and bookkeeping of one parse.
#[derive(Debug)]
pub(crate) struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    at: usize,
    pub(crate) kind: ExpressionKind,
    ctx: &'a mut ExpressionContext,
    depth: usize,
    operators: usize,
    deferred: [Option<String>; CHECKS],
}

impl<'a> Parser<'a> {
    /// Checks the text's size and splits it into tokens.
    pub(crate) fn new(
        text: &'a str,
        kind: ExpressionKind,
        ctx: &'a mut ExpressionContext,
    ) -> Result<Parser<'a>> {
        if text.trim().is_empty() {
            return Err(kind.error("The expression can not be empty;"));
        }
        if text.len() > EXPRESSION_BYTES_MAX {
            return Err(kind.error(format!(
                "Expression size has exceeded the maximum allowed size; expression size: {}",
                text.len()
            )));
        }
        Ok(Parser {
            text,
            tokens: tokenize(text),
            at: 0,
            kind,
            ctx,
            depth: 0,
            operators: 0,
            deferred: Default::default(),
        })
    }

    /// The current token.
    pub(crate) fn peek(&self) -> &TokenKind {
        self.peek_at(0)
    }

    /// The token `offset` places ahead (the final `Eof` past the end).
    pub(crate) fn peek_at(&self, offset: usize) -> &TokenKind {
        self.tokens
            .get(self.at.saturating_add(offset))
            .or(self.tokens.last())
            .map_or(&TokenKind::Eof, |token| &token.kind)
    }

    /// The index of the current token.
    pub(crate) fn position(&self) -> usize {
        self.at
    }

    /// Moves past the current token (never past `Eof`).
    pub(crate) fn advance(&mut self) {
        if self.at + 1 < self.tokens.len() {
            self.at += 1;
        }
    }

    /// Whether the current token is the keyword `word` (any case).
    pub(crate) fn at_keyword(&self, word: &str) -> bool {
        matches!(self.peek(), TokenKind::Word(w) if w.eq_ignore_ascii_case(word))
    }

    /// Consumes `kind`, or fails with a syntax error at the current token.
    pub(crate) fn expect(&mut self, kind: &TokenKind) -> Result<()> {
        if self.peek() == kind {
            self.advance();
            Ok(())
        } else {
            Err(self.syntax_error())
        }
    }

    /// DynamoDB's syntax error at the current token: the token's text, and
    /// the source from the token before it to the token after it.
    pub(crate) fn syntax_error(&self) -> ExprError {
        let Some(token) = self.tokens.get(self.at) else {
            return self
                .kind
                .error("Syntax error; token: \"<EOF>\", near: \"\"");
        };
        let text = if token.kind == TokenKind::Eof {
            "<EOF>"
        } else {
            self.text.get(token.start..token.end).unwrap_or("")
        };
        let from = self
            .at
            .checked_sub(1)
            .and_then(|before| self.tokens.get(before))
            .map_or(token.start, |before| before.start);
        let to = self
            .tokens
            .get(self.at + 1)
            .map_or(token.end, |after| after.end);
        let near = self.text.get(from..to).unwrap_or("");
        self.kind
            .error(format!("Syntax error; token: \"{text}\", near: \"{near}\""))
    }

    /// Records a problem to report if parsing succeeds and no problem of a
    /// higher-ranked check was found.
    pub(crate) fn defer(&mut self, check: Check, message: String) {
        let slot = &mut self.deferred[check as usize];
        if slot.is_none() {
            *slot = Some(message);
        }
    }

    /// One level deeper into parentheses, `NOT` or a call. Past
    /// [`NESTING_DEPTH_MAX`] the parse stops, with the error DynamoDB gives
    /// the whole text: too many operators, else redundant parentheses,
    /// else (a limit of ours) the depth.
    pub(crate) fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth <= NESTING_DEPTH_MAX {
            return Ok(());
        }
        let operators = self.count_operator_tokens();
        if operators > OPERATORS_MAX {
            return Err(self.kind.error(format!(
                "The expression contains too many operators; operator count: {operators}"
            )));
        }
        if self.has_redundant_parentheses() {
            return Err(self.kind.error("The expression has redundant parentheses;"));
        }
        Err(self.kind.error(format!(
            "The expression has exceeded the maximum nesting depth; nesting depth: {}",
            self.depth
        )))
    }

    /// The operators of a condition's whole text, counted from its tokens
    /// as the parser counts them: a `BETWEEN` is counted once, by its
    /// `AND`. An update has none (its `=` are actions).
    fn count_operator_tokens(&self) -> usize {
        if self.kind == ExpressionKind::Update {
            return 0;
        }
        let word = |token: &Token, w: &str| matches!(&token.kind, TokenKind::Word(x) if x.eq_ignore_ascii_case(w));
        let mut count = 0usize;
        for token in &self.tokens {
            let comparator = matches!(
                token.kind,
                TokenKind::Eq
                    | TokenKind::Ne
                    | TokenKind::Lt
                    | TokenKind::Le
                    | TokenKind::Gt
                    | TokenKind::Ge
            );
            if comparator || ["AND", "OR", "NOT", "IN"].iter().any(|w| word(token, w)) {
                count += 1;
            }
        }
        count
    }

    /// Whether some `(( … ))` pair encloses nothing but another pair.
    fn has_redundant_parentheses(&self) -> bool {
        (0..self.tokens.len()).any(|open| {
            *self.token_at(open) == TokenKind::LParen
                && *self.token_at(open + 1) == TokenKind::LParen
                && match (self.matching_paren(open), self.matching_paren(open + 1)) {
                    (Some(outer), Some(inner)) => inner + 1 == outer,
                    _ => false,
                }
        })
    }

    pub(crate) fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Counts one operator towards [`OPERATORS_MAX`].
    pub(crate) fn count_operator(&mut self) {
        self.operators = self.operators.saturating_add(1);
    }

    /// Ends the parse: the input must be used up; then the operator limit
    /// and the highest-ranked deferred problem.
    pub(crate) fn finish(self) -> Result<()> {
        if *self.peek() != TokenKind::Eof {
            return Err(self.syntax_error());
        }
        if self.operators > OPERATORS_MAX {
            return Err(self.kind.error(format!(
                "The expression contains too many operators; operator count: {}",
                self.operators
            )));
        }
        if let Some(message) = self.deferred.iter().flatten().next() {
            return Err(self.kind.error(message));
        }
        self.ctx.record(self.kind);
        Ok(())
    }

    /// A path, a value, or a call `name(term, …)`.
    pub(crate) fn parse_term(&mut self) -> Result<Expr> {
        match self.peek().clone() {
            TokenKind::Value(placeholder) => {
                self.advance();
                Ok(Expr::Value(self.literal(placeholder)))
            }
            TokenKind::Word(name)
                if !is_keyword(&name) && *self.peek_at(1) == TokenKind::LParen =>
            {
                self.advance();
                if self.kind == ExpressionKind::Update && !FUNCTIONS.contains(&name.as_str()) {
                    // The update grammar knows its functions by name:
                    // any other word before `(` is a path, and the `(` a
                    // syntax error.
                    return Err(self.syntax_error());
                }
                self.advance();
                if !FUNCTIONS.contains(&name.as_str()) {
                    self.defer(
                        Check::UnknownFunction,
                        format!("Invalid function name; function: {name}"),
                    );
                }
                self.enter()?;
                let mut args = vec![self.parse_term()?];
                // Bounded: every argument consumes at least one token.
                while *self.peek() == TokenKind::Comma {
                    self.advance();
                    args.push(self.parse_term()?);
                }
                self.expect(&TokenKind::RParen)?;
                self.leave();
                Ok(Expr::Call { name, args })
            }
            _ => Ok(Expr::Path(self.parse_path()?)),
        }
    }

    /// `name ( "." name | "[" digits "]" )*`, names bare or `#placeholder`.
    pub(crate) fn parse_path(&mut self) -> Result<Path> {
        let mut elements = vec![self.path_name()?];
        // Bounded: every step consumes at least two tokens.
        loop {
            match self.peek() {
                TokenKind::Dot => {
                    self.advance();
                    elements.push(self.path_name()?);
                }
                TokenKind::LBracket => {
                    self.advance();
                    let TokenKind::Digits(digits) = self.peek() else {
                        return Err(self.syntax_error());
                    };
                    let Ok(index) = digits.parse::<u32>() else {
                        return Err(self.syntax_error());
                    };
                    self.advance();
                    self.expect(&TokenKind::RBracket)?;
                    elements.push(PathElement::Index(index));
                }
                _ => return self.bounded_path(elements),
            }
        }
    }

    /// A path of at most [`PATH_DEPTH_MAX`] steps.
    fn bounded_path(&self, elements: Vec<PathElement>) -> Result<Path> {
        if elements.len() > PATH_DEPTH_MAX {
            return Err(self.kind.error(format!(
                "The document path has too many nesting levels; nesting levels: {}",
                elements.len()
            )));
        }
        Ok(Path { elements })
    }

    /// One map key or top-level name of a path.
    fn path_name(&mut self) -> Result<PathElement> {
        match self.peek().clone() {
            TokenKind::Word(word) if !is_keyword(&word) => {
                self.advance();
                if is_reserved(&word) {
                    self.defer(
                        Check::ReservedWord,
                        format!("Attribute name is a reserved keyword; reserved keyword: {word}"),
                    );
                }
                Ok(PathElement::Attribute {
                    name: word,
                    placeholder: None,
                })
            }
            TokenKind::Name(placeholder) => {
                self.advance();
                let name = self.ctx.name(&placeholder).unwrap_or_else(|| {
                    self.defer(
                        Check::Undefined,
                        format!(
                            "An expression attribute name used in the document path is not defined; attribute name: {placeholder}"
                        ),
                    );
                    placeholder.clone()
                });
                Ok(PathElement::Attribute {
                    name,
                    placeholder: Some(placeholder),
                })
            }
            _ => Err(self.syntax_error()),
        }
    }

    /// Resolves a `:value` placeholder (a `NULL` stand-in if undefined).
    pub(crate) fn literal(&mut self, placeholder: String) -> Literal {
        let value = self.ctx.value(&placeholder).unwrap_or_else(|| {
            self.defer(
                Check::Undefined,
                format!(
                    "An expression attribute value used in expression is not defined; attribute value: {placeholder}"
                ),
            );
            AttributeValue::Null
        });
        Literal { placeholder, value }
    }

    /// A `:value` token, which must come next.
    pub(crate) fn parse_literal(&mut self) -> Result<Literal> {
        let TokenKind::Value(placeholder) = self.peek().clone() else {
            return Err(self.syntax_error());
        };
        self.advance();
        Ok(self.literal(placeholder))
    }

    /// The index of the `)` matching the `(` at token index `open`, if any.
    pub(crate) fn matching_paren(&self, open: usize) -> Option<usize> {
        let mut depth = 0usize;
        for (index, token) in self.tokens.iter().enumerate().skip(open) {
            match token.kind {
                TokenKind::LParen => depth += 1,
                TokenKind::RParen => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        return Some(index);
                    }
                }
                _ => {}
            }
        }
        None
    }

    /// The token kind at an absolute index.
    pub(crate) fn token_at(&self, index: usize) -> &TokenKind {
        self.tokens
            .get(index)
            .map_or(&TokenKind::Eof, |token| &token.kind)
    }
}

/// Whether a word is one of the languages' keywords (any case).
pub(crate) fn is_keyword(word: &str) -> bool {
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word))
}

/// A stand-in operand for a construct already reported as an error.
pub(crate) fn stand_in() -> Literal {
    Literal {
        placeholder: String::new(),
        value: AttributeValue::Null,
    }
}

/// DynamoDB's message for an operand of the wrong type.
pub(crate) fn incorrect_operand(function: &str, value: &AttributeValue) -> String {
    format!(
        "Incorrect operand type for operator or function; operator or function: {function}, operand type: {}",
        value.type_name()
    )
}

/// DynamoDB's message for a call with the wrong number of arguments.
pub(crate) fn operand_count(function: &str, count: usize) -> String {
    format!(
        "Incorrect number of operands for operator or function; operator or function: {function}, number of operands: {count}"
    )
}

/// DynamoDB's message for a function used where it may not stand.
pub(crate) fn misused(function: &str) -> String {
    format!(
        "The function is not allowed to be used this way in an expression; function: {function}"
    )
}

/// DynamoDB's message for a function that needs a path argument.
pub(crate) fn requires_path(function: &str) -> String {
    format!("Operator or function requires a document path; operator or function: {function}")
}
