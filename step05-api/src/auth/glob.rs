//! Glob patterns with `*`: the matcher behind policy actions and tables.
//!
//! `*` matches any run of characters, including none; every other character
//! matches itself. That is all a policy needs (`dynamodb:Get*`, `orders-*`,
//! `*`), and it keeps matching cheap and predictable.
//!
//! A naive recursive matcher tries every way a `*` could split the text and
//! takes exponential time on patterns like `a*a*a*a*b`. This one is a loop
//! that remembers only the *last* `*` seen: when a literal fails, it lets
//! that star swallow one more character and retries from there. Earlier
//! stars never need revisiting, because whatever they matched, the last
//! star can absorb the difference. The loop runs at most
//! `(pattern length + 1) × (text length + 1)` times, with no recursion and
//! no allocation.

/// How letters compare: IAM action names ignore case, table names do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Case {
    Sensitive,
    Insensitive,
}

// ANCHOR: glob
/// Whether `text` matches `pattern`, where `*` matches any run of bytes.
pub fn matches(pattern: &str, text: &str, case: Case) -> bool {
    // EXERCISE(05.12): match a glob with `*` iteratively: remember the last star and backtrack only to it
    let pattern = pattern.as_bytes();
    let text = text.as_bytes();
    let same = |p: u8, t: u8| match case {
        Case::Sensitive => p == t,
        Case::Insensitive => p.eq_ignore_ascii_case(&t),
    };
    let (mut p, mut t) = (0, 0);
    // The last star: its position in the pattern, and where in the text the
    // run it matches currently ends.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&literal) if same(literal, text[t]) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                // Let the last star swallow one more byte, and retry after it.
                Some((star_p, star_t)) => {
                    star = Some((star_p, star_t + 1));
                    p = star_p + 1;
                    t = star_t + 1;
                }
                None => return false,
            },
        }
    }
    // The text is used up: what is left of the pattern must be all stars.
    pattern[p.min(pattern.len())..].iter().all(|&b| b == b'*')
    // END EXERCISE
}
// ANCHOR_END: glob

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn yes(pattern: &str, text: &str) -> bool {
        matches(pattern, text, Case::Sensitive)
    }

    /// The definition, by recursion: exponential, but obviously right.
    fn reference(pattern: &[u8], text: &[u8]) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some((b'*', rest)) => (0..=text.len()).any(|skip| reference(rest, &text[skip..])),
            Some((&literal, rest)) => text.first() == Some(&literal) && reference(rest, &text[1..]),
        }
    }

    #[test]
    fn ex05_12_literals_and_stars() {
        assert!(yes("orders", "orders"));
        assert!(!yes("orders", "orders2"));
        assert!(!yes("orders", "order"));
        assert!(yes("*", ""));
        assert!(yes("*", "anything"));
        assert!(yes("orders-*", "orders-2026"));
        assert!(yes("orders-*", "orders-"));
        assert!(!yes("orders-*", "orders"));
        assert!(yes("*-archive", "orders-archive"));
        assert!(yes("a*b*c", "aXXbYYc"));
        assert!(yes("a*b*c", "abc"));
        assert!(!yes("a*b*c", "aXXcYYb"));
        assert!(yes("**", "x"));
        assert!(!yes("", "x"));
        assert!(yes("", ""));
    }

    #[test]
    fn ex05_12_backtracking_to_the_last_star() {
        // The first `b` after the star is not the one the pattern needs.
        assert!(yes("*bc", "abbc"));
        assert!(yes("a*abc", "aababc"));
        assert!(!yes("a*abc", "aababd"));
    }

    #[test]
    fn ex05_12_actions_ignore_case_tables_do_not() {
        assert!(matches(
            "dynamodb:Get*",
            "dynamodb:GetItem",
            Case::Insensitive
        ));
        assert!(matches(
            "DynamoDB:getitem",
            "dynamodb:GetItem",
            Case::Insensitive
        ));
        assert!(!matches("Orders", "orders", Case::Sensitive));
    }

    #[test]
    fn ex05_12_pathological_patterns_are_fast() {
        let text = "a".repeat(2_000);
        let pattern = format!("{}b", "a*".repeat(1_000));
        let started = std::time::Instant::now();
        assert!(!yes(&pattern, &text));
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    proptest! {
        #[test]
        fn agrees_with_the_recursive_definition(
            pattern in "[ab*]{0,8}",
            text in "[ab]{0,10}",
        ) {
            prop_assert_eq!(yes(&pattern, &text), reference(pattern.as_bytes(), text.as_bytes()));
        }
    }
}
