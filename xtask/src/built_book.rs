//! The rendered book, looked at: every page of the built HTML links only to
//! pages and ids that exist, shows only images that exist, and says something.
//!
//! [`crate::book`] checks the markdown before the build; this checks what a
//! reader gets after it, where mdBook's own rewriting (sidebar, print page,
//! `.md` to `.html`) could still leave a dead link, and where a chapter whose
//! text was lost shows up as a page with a heading and nothing under it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Component, Path, PathBuf};

use crate::cmd::Result;

/// Pages mdBook generates around the chapters; they are searched for links
/// but are not chapters, so they may be short.
const GENERATED_PAGES: &[&str] = &["404.html", "print.html", "toc.html"];

/// Every problem in the built book at `build_dir`, as `page: what`.
pub fn check(build_dir: &Path) -> Result<Vec<String>> {
    // Canonical, so that a resolved link and the page it names compare equal.
    let build_dir = &fs::canonicalize(build_dir)
        .map_err(|e| format!("reading {}: {e}", build_dir.display()))?;
    let pages = read_pages(build_dir)?;
    let mut problems = Vec::new();
    for (path, html) in &pages {
        let shown = path.strip_prefix(build_dir).unwrap_or(path).display();
        for problem in page_problems(build_dir, path, html, &pages) {
            problems.push(format!("{shown}: {problem}"));
        }
    }
    Ok(problems)
}

/// Every `.html` file below `dir` with its text.
fn read_pages(dir: &Path) -> Result<BTreeMap<PathBuf, String>> {
    let mut pages = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = fs::read_dir(&dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry
                .map_err(|e| format!("reading {}: {e}", dir.display()))?
                .path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "html") {
                let text = fs::read_to_string(&path)
                    .map_err(|e| format!("reading {}: {e}", path.display()))?;
                pages.insert(path, text);
            }
        }
    }
    Ok(pages)
}

fn page_problems(
    build_dir: &Path,
    page: &Path,
    html: &str,
    pages: &BTreeMap<PathBuf, String>,
) -> Vec<String> {
    let base = base_dir(build_dir, page, html);
    let mut problems = Vec::new();
    for (attribute, value) in attributes(html, &["href", "src"]) {
        let from = Origin {
            build_dir,
            base: &base,
            page,
        };
        if let Err(problem) = check_target(&from, &value, pages) {
            let what = if attribute == "src" {
                "image or script"
            } else {
                "link"
            };
            problems.push(format!("{what} `{value}`: {problem}"));
        }
    }
    let generated = page
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|name| GENERATED_PAGES.contains(&name));
    if !generated && is_empty_page(html) {
        problems.push("empty page: nothing but headings in <main>".to_string());
    }
    problems
}

/// Where the page's relative links resolve: its own directory, or the
/// build directory joined with a `<base href="/…">` (mdBook's 404 page).
fn base_dir(build_dir: &Path, page: &Path, html: &str) -> PathBuf {
    let base = html
        .find("<base ")
        .and_then(|at| attributes(&html[at..], &["href"]).into_iter().next())
        .and_then(|(_, value)| value.strip_prefix('/').map(str::to_string));
    match base {
        Some(path) => build_dir.join(path),
        None => page.parent().unwrap_or(build_dir).to_path_buf(),
    }
}

/// Where a link was found: what its relative and absolute paths resolve against.
struct Origin<'a> {
    build_dir: &'a Path,
    base: &'a Path,
    page: &'a Path,
}

fn check_target(
    from: &Origin<'_>,
    target: &str,
    pages: &BTreeMap<PathBuf, String>,
) -> std::result::Result<(), String> {
    if is_external(target) {
        return Ok(());
    }
    let (path, fragment) = target.split_once('#').unwrap_or((target, ""));
    let path = path.split_once('?').map_or(path, |(path, _)| path);
    let decoded = percent_decode(path);
    let file = match decoded.strip_prefix('/') {
        _ if path.is_empty() => from.page.to_path_buf(),
        Some(absolute) => normalise(&from.build_dir.join(absolute)),
        None => normalise(&from.base.join(&decoded)),
    };
    let file = if file.is_dir() {
        file.join("index.html")
    } else {
        file
    };
    if !file.is_file() {
        return Err(format!("{} does not exist", path_or_page(path)));
    }
    if fragment.is_empty() {
        return Ok(());
    }
    let Some(html) = pages.get(&file) else {
        return Ok(());
    };
    if ids(html).contains(&percent_decode(fragment)) {
        Ok(())
    } else {
        Err(format!("{} has no id `{fragment}`", path_or_page(path)))
    }
}

fn path_or_page(path: &str) -> &str {
    if path.is_empty() { "this page" } else { path }
}

fn is_external(target: &str) -> bool {
    target.contains("://")
        || target.starts_with("//")
        || ["mailto:", "javascript:", "data:", "tel:"]
            .iter()
            .any(|scheme| target.starts_with(scheme))
}

/// `a/./b/../c` as `a/c`, without touching the filesystem.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The values of the named attributes in `html`, entities decoded, in order.
fn attributes(html: &str, names: &[&str]) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for name in names {
        let pattern = format!(" {name}=\"");
        let mut rest = html;
        while let Some(at) = rest.find(&pattern) {
            let after = &rest[at + pattern.len()..];
            let end = after.find('"').unwrap_or(after.len());
            found.push((name.to_string(), decode_entities(&after[..end])));
            rest = &after[end..];
        }
    }
    found
}

/// Every `id="…"` on a page.
fn ids(html: &str) -> BTreeSet<String> {
    attributes(html, &["id"])
        .into_iter()
        .map(|(_, value)| value)
        .collect()
}

fn decode_entities(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// `%20` and friends back to bytes; a malformed escape is kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A page whose `<main>` holds no text outside its headings (or has no `<main>`).
fn is_empty_page(html: &str) -> bool {
    let main = html
        .split_once("<main>")
        .and_then(|(_, rest)| rest.split_once("</main>"))
        .map_or("", |(main, _)| main);
    let mut body = main.to_string();
    for level in 1..=6 {
        body = remove_elements(&body, &format!("h{level}"));
    }
    !strip_tags(&body).chars().any(char::is_alphanumeric)
}

/// `html` without any `<tag …>…</tag>` element.
fn remove_elements(html: &str, tag: &str) -> String {
    let (open, close) = (format!("<{tag}"), format!("</{tag}>"));
    let mut out = String::new();
    let mut rest = html;
    while let Some(start) = rest.find(&open) {
        out.push_str(&rest[..start]);
        match rest[start..].find(&close) {
            Some(end) => rest = &rest[start + end + close.len()..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(body: &str) -> String {
        format!(
            "<html><head><link href=\"style.css\"></head><body><nav><a href=\"b.html\">B</a></nav><main>{body}</main></body></html>"
        )
    }

    /// A built book with `a.html` holding `body`, a good page `b.html` and an image.
    fn book(body: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("images")).unwrap();
        fs::write(dir.path().join("style.css"), "").unwrap();
        fs::write(dir.path().join("images/pic.svg"), "<svg/>").unwrap();
        fs::write(dir.path().join("a.html"), page(body)).unwrap();
        fs::write(
            dir.path().join("b.html"),
            page("<h1 id=\"b\">B</h1><h2 id=\"part-two\">Part</h2><p>Text.</p>"),
        )
        .unwrap();
        dir
    }

    fn problems(body: &str) -> Vec<String> {
        let dir = book(body);
        check(dir.path()).unwrap()
    }

    #[test]
    fn accepts_a_good_page() {
        let body = "<h1 id=\"a\">A</h1><p>See <a href=\"b.html#part-two\">B</a>, <a href=\"#a\">top</a>, <a href=\"https://example.com/x#y\">web</a>.</p><img src=\"images/pic.svg\" alt=\"\">";
        assert_eq!(problems(body), Vec::<String>::new());
    }

    #[test]
    fn rejects_a_missing_id_whatever_the_build_dir_is_called() {
        let dir = book("<p><a href=\"b.html#no-such-part\">y</a></p>");
        let found = check(&dir.path().join("images/..")).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
    }

    #[test]
    fn rejects_a_missing_page_and_a_missing_id() {
        let found = problems(
            "<p><a href=\"nowhere.html\">x</a> <a href=\"b.html#no-such-part\">y</a> <a href=\"#gone\">z</a></p>",
        );
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[0].contains("link `nowhere.html`: nowhere.html does not exist"));
        assert!(
            found[1].contains("b.html has no id `no-such-part`"),
            "{found:?}"
        );
        assert!(found[2].contains("this page has no id `gone`"), "{found:?}");
    }

    #[test]
    fn rejects_a_missing_image() {
        let found = problems("<p>Text.</p><img src=\"images/lost.svg\" alt=\"\">");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("a.html: image or script `images/lost.svg`"));
    }

    #[test]
    fn rejects_a_page_with_only_a_heading() {
        let found = problems("<h1 id=\"a\"><a class=\"header\" href=\"#a\">A</a></h1>\n  ");
        assert_eq!(
            found,
            vec!["a.html: empty page: nothing but headings in <main>"]
        );
    }

    #[test]
    fn a_base_href_moves_relative_links() {
        let dir = book("<p>Text.</p>");
        fs::write(dir.path().join("index.html"), page("<p>Home.</p>")).unwrap();
        fs::write(
            dir.path().join("404.html"),
            "<html><head><base href=\"/\"></head><main><a href=\"b.html\">home</a> <a href=\"/\">root</a></main></html>",
        )
        .unwrap();
        fs::create_dir_all(dir.path().join("deep")).unwrap();
        fs::write(
            dir.path().join("deep/c.html"),
            page("<p>Up: <a href=\"../b.html#b\">b</a>, <a href=\"../images/pic.svg\">pic</a></p>"),
        )
        .unwrap();
        let found = check(dir.path()).unwrap();
        // deep/c.html's `style.css` and `b.html` are relative to deep/: really missing.
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found.iter().all(|p| p.starts_with("deep/c.html: link `")),
            "{found:?}"
        );
    }

    #[test]
    fn decodes_escapes_in_targets() {
        assert_eq!(percent_decode("a%20b%zz"), "a b%zz");
        assert_eq!(decode_entities("a&amp;b"), "a&b");
    }
}
