//! Reading Rust sources as text, for the checks that look at code without
//! compiling it (layering, module cycles).
//!
//! [`code_only`] blanks comments, string and character literals, so a doc
//! example's `use crate::x` or a log target spelled `"step02_lsm"` is never
//! mistaken for code. [`tokens`] then splits what is left into the few kinds
//! of token those checks need, and [`rust_sources`] finds the files.

use std::fs;
use std::path::{Path, PathBuf};

use crate::cmd::Result;

/// Every `.rs` file below `dir`, sorted, leaving out build output (`target`,
/// or any directory cargo marked with a `CACHEDIR.TAG`), hidden directories,
/// `node_modules`, and the workshop generator's fixture workspace.
pub fn rust_sources(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = fs::read_dir(&dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry
                .map_err(|e| format!("reading {}: {e}", dir.display()))?
                .path();
            if path.is_dir() {
                if !skipped_dir(&path) {
                    pending.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

fn skipped_dir(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let fixture = name == "fixtures" && path.parent().is_some_and(|p| p.ends_with("xtask"));
    name == "target"
        || name == "node_modules"
        || name.starts_with('.')
        || fixture
        || path.join("CACHEDIR.TAG").exists()
}

/// `text` with every comment and literal replaced by spaces (newlines kept, so
/// line numbers still hold).
pub fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let skipped = literal_or_comment_len(&chars, i);
        if skipped == 0 {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        for &c in &chars[i..i + skipped] {
            out.push(if c == '\n' { '\n' } else { ' ' });
        }
        i += skipped;
    }
    out
}

/// How many characters from `i` belong to a comment or literal (0 if none starts there).
fn literal_or_comment_len(chars: &[char], i: usize) -> usize {
    let at = |k: usize| chars.get(i + k).copied();
    let previous_is_word = i > 0 && is_word(chars[i - 1]);
    match (at(0), at(1)) {
        (Some('/'), Some('/')) => line_comment_len(chars, i),
        (Some('/'), Some('*')) => block_comment_len(chars, i),
        (Some('"'), _) => quoted_len(chars, i, '"'),
        (Some('b'), Some('"')) if !previous_is_word => 1 + quoted_len(chars, i + 1, '"'),
        (Some('r' | 'b'), Some('#' | '"' | 'r')) if !previous_is_word => raw_string_len(chars, i),
        (Some('\''), _) => char_literal_len(chars, i),
        _ => 0,
    }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn line_comment_len(chars: &[char], i: usize) -> usize {
    chars[i..]
        .iter()
        .position(|&c| c == '\n')
        .unwrap_or(chars.len() - i)
}

/// Block comments nest in Rust.
fn block_comment_len(chars: &[char], i: usize) -> usize {
    let mut depth = 0usize;
    let mut k = i;
    while k < chars.len() {
        match (chars[k], chars.get(k + 1).copied()) {
            ('/', Some('*')) => {
                depth += 1;
                k += 2;
            }
            ('*', Some('/')) => {
                depth = depth.saturating_sub(1);
                k += 2;
                if depth == 0 {
                    return k - i;
                }
            }
            _ => k += 1,
        }
    }
    chars.len() - i
}

/// A literal from the opening `quote` at `i` through its closing one, with escapes.
fn quoted_len(chars: &[char], i: usize, quote: char) -> usize {
    let mut k = i + 1;
    while k < chars.len() {
        match chars[k] {
            '\\' => k += 2,
            c if c == quote => return k + 1 - i,
            _ => k += 1,
        }
    }
    chars.len() - i
}

/// `r"…"`, `r#"…"#`, `br"…"`: 0 if what starts at `i` is not one.
fn raw_string_len(chars: &[char], i: usize) -> usize {
    let mut k = i;
    if chars.get(k) == Some(&'b') {
        k += 1;
    }
    if chars.get(k) != Some(&'r') {
        return 0;
    }
    k += 1;
    let hashes = chars[k..].iter().take_while(|&&c| c == '#').count();
    k += hashes;
    if chars.get(k) != Some(&'"') {
        return 0;
    }
    k += 1;
    while k < chars.len() {
        if chars[k] == '"'
            && chars[k + 1..]
                .iter()
                .take(hashes)
                .filter(|&&c| c == '#')
                .count()
                == hashes
        {
            return k + 1 + hashes - i;
        }
        k += 1;
    }
    chars.len() - i
}

/// `'x'`, `'\n'`, `'\u{1F600}'`; a lifetime (`'a`) is not a literal (0).
fn char_literal_len(chars: &[char], i: usize) -> usize {
    match (chars.get(i + 1), chars.get(i + 2)) {
        (Some('\\'), _) => quoted_len(chars, i, '\''),
        (Some(_), Some('\'')) => 3,
        _ => 0,
    }
}

/// A token of code, as far as path-reading checks care.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    /// An identifier or keyword, with its 1-based line.
    Word(String, usize),
    /// `::`
    PathSep,
    /// Any other single character: `{`, `}`, `,`, `;`, `*`, `#`, `[`, …
    Punct(char),
}

/// The tokens of code already passed through [`code_only`].
pub fn tokens(code: &str) -> Vec<Token> {
    let chars: Vec<char> = code.chars().collect();
    let mut found = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if is_word(c) {
            let length = chars[i..].iter().take_while(|&&c| is_word(c)).count();
            found.push(Token::Word(chars[i..i + length].iter().collect(), line));
            i += length;
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            found.push(Token::PathSep);
            i += 2;
        } else {
            found.push(Token::Punct(c));
            i += 1;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blanks_comments_and_literals_but_keeps_lines() {
        let text = "use a::b; // use crate::x\n/* crate::y /* nested */ still */ let s = \"crate::z\";\nlet r = r#\"step01_kv::\"#; let c = '\"'; fn f<'a>(x: &'a str) {}\n";
        let code = code_only(text);
        assert_eq!(code.lines().count(), 3);
        assert!(!code.contains("crate::"), "{code}");
        assert!(!code.contains("step01_kv"), "{code}");
        assert!(code.contains("use a::b;"));
        assert!(code.contains("fn f<'a>(x: &'a str) {}"), "{code}");
    }

    #[test]
    fn doc_comments_are_comments() {
        let code = code_only("//! use crate::x;\n/// super::y\nfn g() {}\n");
        assert!(!code.contains("crate") && !code.contains("super"), "{code}");
    }

    #[test]
    fn splits_paths_into_tokens() {
        let found = tokens("use crate::{a, b::*};\nx");
        let word = |w: &str, line| Token::Word(w.to_string(), line);
        assert_eq!(
            found,
            vec![
                word("use", 1),
                word("crate", 1),
                Token::PathSep,
                Token::Punct('{'),
                word("a", 1),
                Token::Punct(','),
                word("b", 1),
                Token::PathSep,
                Token::Punct('*'),
                Token::Punct('}'),
                Token::Punct(';'),
                word("x", 2),
            ]
        );
    }
}
