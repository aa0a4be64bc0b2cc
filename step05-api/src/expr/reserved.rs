//! DynamoDB's reserved words: a bare attribute name in any expression may
//! not be one of them (case-insensitively); it must go through a `#name`
//! placeholder instead.
//!
//! The list is the Developer Guide's (573 words), kept one per line,
//! upper-case and sorted in `reserved_words.txt`, so a lookup is a binary
//! search over the lines.

use std::sync::OnceLock;

/// The word list, sorted by byte value (a unit test asserts it).
const WORDS: &str = include_str!("reserved_words.txt");

/// Whether `name` is a reserved word, ignoring ASCII case.
pub fn is_reserved(name: &str) -> bool {
    // No reserved word is longer than this; longer names skip the search.
    const WORD_BYTES_MAX: usize = 32;
    if name.is_empty() || name.len() > WORD_BYTES_MAX {
        return false;
    }
    let upper = name.to_ascii_uppercase();
    sorted_words().binary_search(&upper.as_str()).is_ok()
}

/// The lines of [`WORDS`], split once.
fn sorted_words() -> &'static [&'static str] {
    static LINES: OnceLock<Vec<&'static str>> = OnceLock::new();
    LINES.get_or_init(|| WORDS.lines().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_sorted_upper_case_and_complete() {
        let words: Vec<&str> = WORDS.lines().collect();
        assert_eq!(words.len(), 573);
        assert!(words.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(
            words
                .iter()
                .all(|w| w.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))
        );
        assert!(words.iter().all(|w| w.len() <= 32));
    }

    #[test]
    fn reserved_words_match_in_any_case() {
        for word in ["status", "STATUS", "Size", "name", "data", "abort", "zone"] {
            assert!(is_reserved(word), "{word}");
        }
        for word in ["a", "pk", "sk", "first_name", "statuses", ""] {
            assert!(!is_reserved(word), "{word}");
        }
    }
}
