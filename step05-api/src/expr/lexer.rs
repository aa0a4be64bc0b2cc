//! The lexer shared by all four expression languages.
//!
//! It never fails: a character that starts no token becomes an
//! [`TokenKind::Unknown`] token, and the parser reports it as a syntax error
//! with DynamoDB's `token: "…", near: "…"` text. Every token remembers its
//! byte span in the source, which is what `near` quotes.
//!
//! Keywords (`AND`, `SET`, …) and function names are not separate kinds:
//! they are [`TokenKind::Word`]s, because whether a word is a keyword
//! depends on where it stands (`SET` starts a clause in an update and is a
//! reserved attribute name everywhere else).

/// What a token is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// `[A-Za-z_][A-Za-z0-9_]*`: an attribute name, keyword or function name.
    Word(String),
    /// `#` followed by `[A-Za-z0-9_]+`, `#` included.
    Name(String),
    /// `:` followed by `[A-Za-z0-9_]+`, `:` included.
    Value(String),
    /// `[0-9]+`: a list index.
    Digits(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Plus,
    Minus,
    /// A character that starts no token (`-` inside `first-name`, `!`, `é`…).
    Unknown(char),
    /// The end of the input; always the last token.
    Eof,
}

/// A token and the byte range `start..end` of the source it was read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
}

/// Splits `text` into tokens, ending with one [`TokenKind::Eof`].
///
/// Bounded: every iteration consumes at least one byte.
pub fn tokenize(text: &str) -> Vec<Token> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        if byte.is_ascii_whitespace() {
            at += 1;
            continue;
        }
        let (kind, end) = match byte {
            b'#' | b':' => placeholder(text, at),
            b'0'..=b'9' => {
                let end = word_end(bytes, at);
                // `1a` is the number 1 followed by the word `a`.
                let end = bytes[at..end]
                    .iter()
                    .position(|b| !b.is_ascii_digit())
                    .map_or(end, |offset| at + offset);
                (TokenKind::Digits(text[at..end].to_string()), end)
            }
            b'A'..=b'Z' | b'a'..=b'z' | b'_' => {
                let end = word_end(bytes, at);
                (TokenKind::Word(text[at..end].to_string()), end)
            }
            _ => operator(text, at),
        };
        tokens.push(Token {
            kind,
            start: at,
            end,
        });
        at = end;
    }
    tokens.push(Token {
        kind: TokenKind::Eof,
        start: bytes.len(),
        end: bytes.len(),
    });
    tokens
}

/// Whether a byte may continue a word or a placeholder.
fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// The end of the run of word bytes starting at `start`.
fn word_end(bytes: &[u8], start: usize) -> usize {
    bytes[start..]
        .iter()
        .position(|&b| !is_word_byte(b))
        .map_or(bytes.len(), |offset| start + offset)
}

// ANCHOR: placeholder
/// Reads a `#name` or `:value` placeholder starting at the sigil at `start`:
/// the sigil and every word byte after it. A sigil followed by no word
/// byte is not a placeholder but an unknown character.
fn placeholder(text: &str, start: usize) -> (TokenKind, usize) {
    // EXERCISE(05.20): read the sigil and the run of [A-Za-z0-9_] after it; a bare sigil is TokenKind::Unknown
    let bytes = text.as_bytes();
    let sigil = bytes[start];
    let end = word_end(bytes, start + 1);
    if end == start + 1 {
        return (TokenKind::Unknown(char::from(sigil)), end);
    }
    let token = text[start..end].to_string();
    let kind = if sigil == b'#' {
        TokenKind::Name(token)
    } else {
        TokenKind::Value(token)
    };
    (kind, end)
    // END EXERCISE
}
// ANCHOR_END: placeholder

/// Reads an operator or punctuation at `start`, or one unknown character.
fn operator(text: &str, start: usize) -> (TokenKind, usize) {
    let rest = &text[start..];
    let two = |kind| (kind, start + 2);
    let one = |kind| (kind, start + 1);
    if rest.starts_with("<>") {
        return two(TokenKind::Ne);
    }
    if rest.starts_with("<=") {
        return two(TokenKind::Le);
    }
    if rest.starts_with(">=") {
        return two(TokenKind::Ge);
    }
    match rest.chars().next() {
        Some('(') => one(TokenKind::LParen),
        Some(')') => one(TokenKind::RParen),
        Some('[') => one(TokenKind::LBracket),
        Some(']') => one(TokenKind::RBracket),
        Some(',') => one(TokenKind::Comma),
        Some('.') => one(TokenKind::Dot),
        Some('=') => one(TokenKind::Eq),
        Some('<') => one(TokenKind::Lt),
        Some('>') => one(TokenKind::Gt),
        Some('+') => one(TokenKind::Plus),
        Some('-') => one(TokenKind::Minus),
        Some(other) => (TokenKind::Unknown(other), start + other.len_utf8()),
        // Unreachable (the caller checked there is a byte), but harmless.
        None => (TokenKind::Eof, start.saturating_add(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TokenKind as K;

    fn kinds(text: &str) -> Vec<TokenKind> {
        tokenize(text).into_iter().map(|token| token.kind).collect()
    }

    fn word(text: &str) -> TokenKind {
        K::Word(text.to_string())
    }

    #[test]
    fn lexes_every_token_kind() {
        let table: &[(&str, Vec<TokenKind>)] = &[
            ("", vec![K::Eof]),
            ("  a  ", vec![word("a"), K::Eof]),
            (
                "a.b[12]",
                vec![
                    word("a"),
                    K::Dot,
                    word("b"),
                    K::LBracket,
                    K::Digits("12".into()),
                    K::RBracket,
                    K::Eof,
                ],
            ),
            (
                "<> <= >= < > = + - ( ) ,",
                vec![
                    K::Ne,
                    K::Le,
                    K::Ge,
                    K::Lt,
                    K::Gt,
                    K::Eq,
                    K::Plus,
                    K::Minus,
                    K::LParen,
                    K::RParen,
                    K::Comma,
                    K::Eof,
                ],
            ),
            (
                "first-name",
                vec![word("first"), K::Minus, word("name"), K::Eof],
            ),
            ("1a", vec![K::Digits("1".into()), word("a"), K::Eof]),
            ("a!", vec![word("a"), K::Unknown('!'), K::Eof]),
            ("é", vec![K::Unknown('é'), K::Eof]),
        ];
        for (text, expected) in table {
            assert_eq!(&kinds(text), expected, "{text:?}");
        }
    }

    #[test]
    fn spans_cover_the_source_text() {
        let tokens = tokenize(" ab <= :v1");
        let spans: Vec<(usize, usize)> = tokens.iter().map(|t| (t.start, t.end)).collect();
        assert_eq!(spans, vec![(1, 3), (4, 6), (7, 10), (10, 10)]);
    }

    #[test]
    fn ex05_20_placeholders_keep_their_sigil_and_word_bytes() {
        assert_eq!(
            kinds("#n_1.:v0"),
            vec![
                K::Name("#n_1".into()),
                K::Dot,
                K::Value(":v0".into()),
                K::Eof
            ]
        );
        assert_eq!(kinds("#1"), vec![K::Name("#1".into()), K::Eof]);
        assert_eq!(
            kinds(":a-b"),
            vec![K::Value(":a".into()), K::Minus, word("b"), K::Eof]
        );
    }

    #[test]
    fn ex05_20_a_sigil_without_a_name_is_an_unknown_character() {
        assert_eq!(kinds("# a"), vec![K::Unknown('#'), word("a"), K::Eof]);
        assert_eq!(kinds(":"), vec![K::Unknown(':'), K::Eof]);
        assert_eq!(kinds("#é"), vec![K::Unknown('#'), K::Unknown('é'), K::Eof]);
    }
}
