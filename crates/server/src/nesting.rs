//! A guard against documents nested deeper than the server's stack can take.
//!
//! async-graphql's parser builds values (`[[[…]]]`, `{a:{a:…}}`) recursively, one native stack frame per
//! level and without a limit of its own, so an 8 KB argument nested a few thousand deep overflows a tokio
//! worker's stack and aborts the whole process; deep selection sets and types lean on the parser's best-effort
//! stack probe. Validation and execution walk the same trees recursively again. Rather than trust every one of
//! those passes, the text is measured first: [`check`] counts how deep `{`, `[` and `(` nest, in one linear
//! pass with constant memory and no recursion, and a document deeper than `max_nesting` is refused before
//! anything parses it. Brackets inside strings, block strings and comments are not structure and do not count.
//!
//! The scan follows the parser's lexical rules where they matter: a string ends at an unescaped `"` or at a
//! line break (which the grammar forbids inside one), a block string at a `"""` not escaped as `\"""`, a comment
//! at a line break. One rule needs a look ahead: a `"""` that nothing closes is, to the parser (which backtracks),
//! an empty string `""` and then a quote opening an ordinary string, after which it reads structure again — so
//! the scan too, or `["""x" [[[[…` would hide its lists. Where a document is malformed the scan may count brackets
//! the parser never reaches, never the other way round: it can refuse a broken document, but cannot wave a deep
//! one through.
//!
//! Measured on a 2 MiB stack (a `weco serve` worker, one request at a time, an argument nested until the
//! process died): debug builds died from 328 levels of lists and 296 of objects, release builds from 1,536 and
//! 1,216 (over websockets a dozen levels later); 63 levels of selection sets around the value took another
//! hundred levels off. Deeper still, pest's own stack probe stops the parse with an error first (from about 750
//! and 550 levels in debug builds, 7,000 and 5,500 in release ones): the crash was a window, not a floor. The
//! default limit, 128 (every bracket counted, the argument's `{` and `(` included), leaves more than twice that
//! headroom in debug builds and nine times in release ones, and is far beyond real queries (`max_depth` already
//! caps selections at 16). It is also serde_json's limit for the JSON around the document, variables included.

use async_graphql::{ErrorExtensionValues, Pos, Response, ServerError};
use std::fmt;

/// A document nested deeper than allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooDeep {
    /// The limit that was exceeded.
    pub limit: usize,
    /// Where the first bracket beyond the limit opens (1-based, columns counted in characters).
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for TooDeep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the document is nested too deeply: brackets ({{, [ or () may nest at most {} levels deep, and line {}, \
             column {} opens one more",
            self.limit, self.line, self.column
        )
    }
}

impl TooDeep {
    /// The refusal as a GraphQL response: no data, one error with `extensions.code = VALIDATION`.
    pub fn response(&self) -> Response {
        let mut extensions = ErrorExtensionValues::default();
        extensions.set("code", "VALIDATION");
        let error = ServerError {
            message: self.to_string(),
            source: None,
            locations: vec![Pos { line: self.line, column: self.column }],
            path: Vec::new(),
            extensions: Some(extensions),
        };
        Response::from_errors(vec![error])
    }
}

/// Refuses `document` if its brackets nest deeper than `max_nesting`; stops at the first bracket too many.
pub fn check(document: &str, max_nesting: usize) -> Result<(), TooDeep> {
    match scan(document.as_bytes(), max_nesting) {
        Scan::Within(_) => Ok(()),
        Scan::Exceeded(offset) => {
            let before = document.get(..offset).unwrap_or(document);
            // The grammar's line terminators: `\n`, `\r\n` and a lone `\r`.
            let line = 1 + before.matches('\n').count() + before.matches('\r').count() - before.matches("\r\n").count();
            let line_start = before.rfind(['\n', '\r']).map_or(0, |i| i + 1);
            let column = before.get(line_start..).map_or(0, |l| l.chars().count()) + 1;
            Err(TooDeep { limit: max_nesting, line, column })
        }
    }
}

/// How deep the brackets of `document` nest (0 for none).
pub fn depth(document: &str) -> usize {
    match scan(document.as_bytes(), usize::MAX) {
        Scan::Within(deepest) | Scan::Exceeded(deepest) => deepest,
    }
}

enum Scan {
    /// The deepest nesting seen, within the limit.
    Within(usize),
    /// The byte offset of the first bracket beyond the limit.
    Exceeded(usize),
}

/// Where the scan is: in structure, or inside something whose brackets do not count.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Code,
    String,
    BlockString,
    Comment,
}

fn scan(text: &[u8], limit: usize) -> Scan {
    // Made at the first `"""`, if any: most documents have no block string.
    let mut closed: Option<ClosedBlockStrings> = None;
    let mut state = State::Code;
    let mut depth = 0usize;
    let mut deepest = 0usize;
    let mut i = 0;
    while let Some(&byte) = text.get(i) {
        let rest = text.get(i..).unwrap_or_default();
        match state {
            State::Code => match byte {
                b'{' | b'[' | b'(' => {
                    depth += 1;
                    if depth > limit {
                        return Scan::Exceeded(i);
                    }
                    deepest = deepest.max(depth);
                }
                // A stray closing bracket does not make room for more openings: the parser fails there anyway.
                b'}' | b']' | b')' => depth = depth.saturating_sub(1),
                b'#' => state = State::Comment,
                b'"' if rest.starts_with(b"\"\"\"") => {
                    if closed.get_or_insert_with(|| ClosedBlockStrings::of(text)).from(i + 3) {
                        state = State::BlockString;
                        i += 2;
                    } else {
                        // Never closed: the parser reads an empty string `""`, and the third quote opens a string.
                        i += 1;
                    }
                }
                b'"' => state = State::String,
                _ => {}
            },
            State::String => match byte {
                b'"' | b'\n' | b'\r' => state = State::Code,
                // An escape takes the next character with it (`\"` does not end the string), but never a line
                // break, which ends the string (the parser fails there).
                b'\\' if !matches!(rest.get(1), Some(b'\n' | b'\r')) => i += 1,
                _ => {}
            },
            State::BlockString => {
                if rest.starts_with(b"\\\"\"\"") {
                    i += 3;
                } else if rest.starts_with(b"\"\"\"") {
                    state = State::Code;
                    i += 2;
                }
            }
            State::Comment => {
                if matches!(byte, b'\n' | b'\r') {
                    state = State::Code;
                }
            }
        }
        i += 1;
    }
    Scan::Within(deepest)
}

/// Which block strings are closed: bit `i` is set when block string content starting at byte `i` meets a closing
/// `"""` (`\"""` being an escape, as in the grammar). Computed once, backwards, in one pass: a bit per byte.
struct ClosedBlockStrings(Vec<u64>);

impl ClosedBlockStrings {
    fn of(text: &[u8]) -> Self {
        let mut closed = Self(vec![0; text.len() / 64 + 1]);
        for i in (0..text.len()).rev() {
            let rest = text.get(i..).unwrap_or_default();
            let here = if rest.starts_with(b"\\\"\"\"") {
                closed.from(i + 4)
            } else {
                rest.starts_with(b"\"\"\"") || closed.from(i + 1)
            };
            if here && let Some(word) = closed.0.get_mut(i / 64) {
                *word |= 1 << (i % 64);
            }
        }
        closed
    }

    /// Whether block string content starting at byte `i` is closed (never past the end).
    fn from(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|word| word & (1 << (i % 64)) != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_bracket_counts() {
        assert_eq!(depth(""), 0);
        assert_eq!(depth("{ a }"), 1);
        assert_eq!(depth("{ a(b: [1, {c: 2}]) { d } }"), 4);
        assert_eq!(depth("query($v: [[Int!]!]) { a }"), 3);
        assert_eq!(depth(&format!("{{a(b:{}{})}}", "[".repeat(2_000), "]".repeat(2_000))), 2_002);
    }

    #[test]
    fn brackets_in_strings_do_not_count() {
        assert_eq!(depth(r#"{ a(b: "[[[{{{(((") }"#), 2);
        assert_eq!(depth(r#"{ a(b: "\"[[[") }"#), 2, "an escaped quote does not end the string");
        assert_eq!(depth(r#"{ a(b: "\\", c: [1]) }"#), 3, "an escaped backslash does not escape the quote");
        assert_eq!(depth(r#"{ a(b: "", c: [1]) }"#), 3, "an empty string is not a block string");
        assert_eq!(depth("{ a(b: \"[[[\n[[) }"), 4, "a line break ends a string, as the parser sees it");
        assert_eq!(depth("{ a(b: \"\\\n[) }"), 3, "an escape never swallows a line break");
    }

    #[test]
    fn brackets_in_block_strings_do_not_count() {
        assert_eq!(depth("{ a(b: \"\"\"[[[\n{{{ \" \"\" \"\"\") }"), 2);
        assert_eq!(depth(r#"{ a(b: """ \""" [[[ """) }"#), 2, "an escaped triple quote does not end it");
        assert_eq!(depth(r#"{ a(b: """ \\""" [[[ """) }"#), 2, "nor does one after a backslash");
        assert_eq!(depth(r#"{ a(b: """x""", c: [[1]]) }"#), 4, "it ends at the first triple quote");
        assert_eq!(depth(r#"{ a(b: """"[""") }"#), 2, "four quotes open a block string holding a quote");
    }

    #[test]
    fn an_unclosed_block_string_is_an_empty_string_and_a_string_as_the_parser_reads_it() {
        // The parser backtracks: `""` is an empty string, `"x"` a string, and the lists are structure.
        let hidden = format!(r#"{{ a(b: ["""x" {}1{}]) }}"#, "[".repeat(1_000), "]".repeat(1_000));
        assert_eq!(depth(&hidden), 1_003);
        assert!(async_graphql::parser::parse_query(r#"{ a(b: ["""x" [[1]]]) }"#).is_ok(), "the parser agrees");
        assert_eq!(depth(r#"{ a(b: ["""[[" [[1]]]) }"#), 5, "the quote after the empty string opens a string");
        assert_eq!(depth(r#"{ a(b: ["""""x""" [1]]) }"#), 4, "five quotes open a block string holding two");
        let after_a_closed_one = r#"{ a(b: ["""[""" """x" [1]]) }"#;
        assert_eq!(depth(after_a_closed_one), 4, "a closed block string, then an unclosed one");
        assert!(async_graphql::parser::parse_query(after_a_closed_one).is_ok(), "the parser agrees");
        assert_eq!(depth(r#"{ a(b: """ [ # """) }"#), 2, "a comment in a block string is content");
        assert_eq!(depth("{ a(b: [\"\"\"x\" [1]]) # \"\"\"\n }"), 3, "a later `\"\"\"` closes it, even in a comment");
    }

    #[test]
    fn brackets_in_comments_do_not_count_until_the_line_ends() {
        assert_eq!(depth("# {[(\n{ a }"), 1);
        assert_eq!(depth("{ a # ((((\n b(c: [1]) }"), 3);
        assert_eq!(depth("{ a # ((((\r[ }"), 2, "a carriage return ends a comment too");
        assert_eq!(depth(r##"{ a(b: "#[[[") }"##), 2, "a hash in a string starts no comment");
        assert_eq!(depth(r#"{ a # "[[[ }"#), 1, "a quote in a comment starts no string");
    }

    #[test]
    fn stray_closing_brackets_do_not_make_room_for_more() {
        assert_eq!(depth("}}}}[[["), 3);
        assert_eq!(check("))))((((", 3).map_err(|e| e.column), Err(8));
    }

    #[test]
    fn the_limit_itself_is_allowed_and_one_more_is_refused_where_it_opens() {
        let at = |n: usize| format!("{{a(b:{}{})}}", "[".repeat(n - 2), "]".repeat(n - 2));
        assert_eq!(check(&at(128), 128), Ok(()));
        assert_eq!(check(&at(129), 128), Err(TooDeep { limit: 128, line: 1, column: 132 }));
        let refused = check("# é\r\n{\n  a(b: \"é\", c: [[1]])\r}", 3).expect_err("four levels");
        assert_eq!((refused.line, refused.column), (3, 17), "lines and characters are counted as the parser does");
    }

    #[test]
    fn the_refusal_is_a_validation_error_with_its_location() {
        let response = check("{ a(b: [[[1]]]) }", 3).expect_err("too deep").response();
        let json = serde_json::to_value(&response).expect("serialises");
        assert_eq!(json["data"], serde_json::Value::Null);
        assert_eq!(json["errors"][0]["extensions"]["code"], "VALIDATION");
        assert_eq!(json["errors"][0]["locations"][0], serde_json::json!({ "line": 1, "column": 9 }));
        let message = json["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("nested too deeply") && message.contains("at most 3 levels"), "{message}");
    }

    #[test]
    fn a_megabyte_of_brackets_is_measured_without_recursion() {
        let deep = "[".repeat(1 << 20);
        assert_eq!(depth(&deep), 1 << 20);
        assert!(check(&deep, 128).is_err());
    }
}

/// Random documents against the scanner and the real parser.
#[cfg(test)]
mod properties {
    use super::{check, depth};
    use async_graphql::{EmptyMutation, EmptySubscription, Json, Object, Schema};
    use proptest::prelude::*;
    use proptest::test_runner::Config;

    /// The stack of a tokio worker thread (tokio's default, which `weco serve` keeps).
    const WORKER_STACK: usize = 2 * 1024 * 1024;
    /// The server's default `max_nesting`.
    const LIMIT: usize = 128;

    /// How the spine of a generated document goes one level deeper.
    #[derive(Debug, Clone, Copy)]
    enum Level {
        /// `a {`, or `a(s: "…") {`: a selection set under a field.
        Field,
        /// `... {` or `... on Echo {`.
        InlineFragment,
        /// `[`, in a value.
        List,
        /// `{k: `, in a value.
        Object,
    }

    /// What goes beside the spine at one level: a sibling with brackets in strings, block strings or comments.
    #[derive(Debug, Clone)]
    enum Sibling {
        None,
        Whitespace(&'static str),
        Comment(String, &'static str),
        String(String),
        BlockString(String),
        /// A small value of its own: `[1, {k: "…"}]`, one to three levels under the current one.
        Small(String),
    }

    /// A generated document and how deep its brackets truly nest, counted as it was written.
    #[derive(Debug, Clone)]
    struct Document {
        text: String,
        depth: usize,
    }

    /// Writes a document, counting the nesting of the brackets it writes as structure.
    #[derive(Default)]
    struct Writer {
        text: String,
        depth: usize,
        deepest: usize,
    }

    impl Writer {
        /// Structure: every bracket in `code` counts (it holds no strings or comments).
        fn code(&mut self, code: &str) {
            for c in code.chars() {
                match c {
                    '{' | '[' | '(' => {
                        self.depth += 1;
                        self.deepest = self.deepest.max(self.depth);
                    }
                    '}' | ']' | ')' => self.depth -= 1,
                    _ => {}
                }
            }
            self.text.push_str(code);
        }

        /// A string, block string or comment: its brackets are not structure.
        fn literal(&mut self, text: &str) {
            self.text.push_str(text);
        }

        /// A sibling of the spine, in selection sets (`selection`) or in values.
        fn sibling(&mut self, sibling: &Sibling, selection: bool, n: usize) {
            // In a selection set a sibling is a field (aliased, so that fields never conflict); in an object, a
            // field of its own; in a list, a value.
            let (open, close) = if selection { (format!(" l{n}: leaf(s: "), ") ") } else { (" ".into(), " ") };
            match sibling {
                Sibling::None => {}
                Sibling::Whitespace(space) => self.literal(space),
                Sibling::Comment(text, end) => self.literal(&format!("#{text}{end}")),
                Sibling::String(text) => {
                    self.code(&open);
                    self.literal(&format!("\"{text}\""));
                    self.code(close);
                }
                Sibling::BlockString(text) => {
                    self.code(&open);
                    self.literal(&format!("\"\"\"{text}\"\"\""));
                    self.code(close);
                }
                Sibling::Small(text) => {
                    self.code(&open);
                    self.code("[1, {k: ");
                    self.literal(&format!("\"{text}\""));
                    self.code(&format!("}}, {}]", "[".repeat(n % 3) + &"]".repeat(n % 3)));
                    self.code(close);
                }
            }
        }
    }

    /// Text for a string: brackets, quotes and backslashes, all escaped as the grammar wants.
    fn string_text() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(vec![
            "[", "]", "{", "}", "(", ")", "#", "x", " ", "é", "'", "\\\"", "\\\\", "\\n", "\\u0041", "\\/",
        ]);
        prop::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
    }

    /// Text for a block string: quotes one or two at a time, escaped triple quotes, lone backslashes, line
    /// breaks. No piece ends in a quote or a backslash, so pieces never join into a closing `"""`.
    fn block_string_text() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(vec![
            "[", "]", "{", "}", "(", ")", "#", "x", "\n", "\r\n", "\"x", "\"\"x", "\\\"\"\"", "\\x", "é",
        ]);
        prop::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
    }

    /// Text for a comment: anything but a line break, quotes and brackets included.
    fn comment_text() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(vec!["[", "]", "{", "}", "(", ")", "\"", "\"\"\"", "\\", "#", " ", "x"]);
        prop::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
    }

    fn sibling() -> impl Strategy<Value = Sibling> {
        prop_oneof![
            4 => Just(Sibling::None),
            1 => prop::sample::select(vec![" ", ",", "\n", "\t", " ,\r\n"]).prop_map(Sibling::Whitespace),
            1 => (comment_text(), prop::sample::select(vec!["\n", "\r", "\r\n"]))
                .prop_map(|(text, end)| Sibling::Comment(text, end)),
            1 => string_text().prop_map(Sibling::String),
            1 => block_string_text().prop_map(Sibling::BlockString),
            1 => string_text().prop_map(Sibling::Small),
        ]
    }

    /// How deep the spine goes: mostly around the limit, sometimes up to a few thousand levels.
    fn spine_depth() -> impl Strategy<Value = usize> {
        prop_oneof![3 => 0..=LIMIT, 3 => (LIMIT - 8)..=(LIMIT + 8), 2 => 0..3_000usize]
    }

    /// A document: an operation whose spine nests selection sets, then (through an argument or a directive)
    /// values, with siblings at every level.
    fn document() -> impl Strategy<Value = Document> {
        // The parser stops selection sets at 64 levels but values at none: many documents are mostly values.
        let selection_share = prop_oneof![0.0..=1.0f64, 0.0..=0.1f64];
        // A quarter of them open a block string that nothing closes, before their values: `"""x"` reads as `""`
        // and `"x"`, and what follows is structure again.
        let unclosed = prop::option::weighted(0.25, string_text());
        (spine_depth(), selection_share, any::<u64>(), 0..4u8, unclosed)
            .prop_flat_map(|(levels, selection_share, seed, head, unclosed)| {
                let selections = ((levels as f64) * selection_share) as usize;
                let selection_levels =
                    prop::collection::vec(prop::sample::select(vec![Level::Field, Level::InlineFragment]), selections);
                let value_levels =
                    prop::collection::vec(prop::sample::select(vec![Level::List, Level::Object]), levels - selections);
                let siblings = prop::collection::vec(sibling(), levels + 1);
                (selection_levels, value_levels, siblings, Just((seed, head, unclosed)))
            })
            .prop_map(|(selections, values, siblings, (seed, head, unclosed))| {
                render(&selections, &values, &siblings, seed, head, unclosed.as_deref())
            })
    }

    fn render(
        selections: &[Level],
        values: &[Level],
        siblings: &[Sibling],
        seed: u64,
        head: u8,
        unclosed: Option<&str>,
    ) -> Document {
        // After an unclosed block string, no `"""` may follow anywhere (in a comment either), or it would close it.
        let siblings: Vec<Sibling> = siblings
            .iter()
            .map(|sibling| match (unclosed, sibling) {
                (Some(_), Sibling::BlockString(text)) => Sibling::String(text.replace(['\n', '\r', '"', '\\'], "x")),
                (Some(_), Sibling::Comment(text, end)) => Sibling::Comment(text.replace('"', "'"), end),
                _ => sibling.clone(),
            })
            .collect();
        let mut unclosed = unclosed;
        let mut w = Writer::default();
        match head {
            0 => w.code("query Deep($v: [[Int!]] = [[1]]) @d(x: 1) "),
            1 => w.code("subscription "),
            2 => w.literal("# a comment with {[( first\n"),
            _ => {}
        }
        w.code("{");
        let mut closings: Vec<&str> = Vec::with_capacity(selections.len() + values.len() + 1);
        let mut siblings = siblings.iter().enumerate();
        for (n, level) in selections.iter().enumerate() {
            if let Some((n, sibling)) = siblings.next() {
                w.sibling(sibling, true, n);
            }
            match (level, (seed >> (n % 64)) & 1) {
                (Level::InlineFragment, 0) => w.code(" ... {"),
                (Level::InlineFragment, _) => w.code(" ... on Echo {"),
                (_, 0) => w.code(" a {"),
                _ => {
                    w.code(" a(b: ");
                    w.literal("\"}}]]\"");
                    w.code(") {");
                }
            }
            closings.push("}");
        }
        if values.is_empty() {
            if let Some((n, sibling)) = siblings.next() {
                w.sibling(sibling, true, n);
            }
            w.code(" leaf");
        } else {
            // Into values through an argument, or through a directive's argument.
            if seed & 1 == 0 {
                w.code(" leaf(s: ")
            } else {
                w.code(" leaf @include(if: ")
            }
            closings.push(")");
            for level in values {
                let sibling = siblings.next();
                match level {
                    Level::List => {
                        w.code("[");
                        if let Some(text) = unclosed.take() {
                            w.literal(&format!(" \"\"\"{text}\" "));
                        }
                        if let Some((n, sibling)) = sibling {
                            w.sibling(sibling, false, n);
                        }
                        closings.push("]");
                    }
                    _ => {
                        w.code("{");
                        // An object's sibling is a field of its own, when it is a value.
                        if let Some((n, sibling)) = sibling {
                            if matches!(sibling, Sibling::String(_) | Sibling::BlockString(_) | Sibling::Small(_)) {
                                w.code(&format!(" o{n}: "));
                            }
                            w.sibling(sibling, false, n);
                        }
                        w.code(" k: ");
                        closings.push("}");
                    }
                }
            }
            w.code("1");
        }
        while let Some(close) = closings.pop() {
            w.code(close);
        }
        w.code("}");
        Document { depth: w.deepest, text: w.text }
    }

    /// An edit that may break a document: what the parser must survive too, when the scanner lets it through.
    #[derive(Debug, Clone)]
    struct Edit {
        at: f64,
        insert: &'static str,
        remove: usize,
    }

    fn edits() -> impl Strategy<Value = Vec<Edit>> {
        let insert = prop::sample::select(vec![
            "\"", "\"\"\"", "\\", "#", "\n", "\r", "[", "{", "(", "]", "}", ")", "\\\"\"\"", "", "[[[[[[[[",
        ]);
        let edit = (0.0..1.0f64, insert, 0..4usize).prop_map(|(at, insert, remove)| Edit { at, insert, remove });
        // Half the documents are left whole: most edits break a document where the parser stops early.
        prop_oneof![Just(Vec::new()), prop::collection::vec(edit, 1..6)]
    }

    fn apply(text: &str, edits: &[Edit]) -> String {
        let mut chars: Vec<char> = text.chars().collect();
        for edit in edits {
            let at = ((chars.len() as f64) * edit.at) as usize;
            let end = (at + edit.remove).min(chars.len());
            chars.splice(at..end, edit.insert.chars());
        }
        chars.into_iter().collect()
    }

    /// Whatever it returns, after parsing `text` and running it through a schema limited like Weco's, on a
    /// thread with a worker's stack: an overflow there aborts the test process.
    fn parse_and_run_on_a_worker_stack(text: String) {
        let ran = std::thread::Builder::new()
            .stack_size(WORKER_STACK)
            .spawn(move || {
                drop(async_graphql::parser::parse_query(&text));
                let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
                let schema = Schema::build(Echo, EmptyMutation, EmptySubscription)
                    .limit_depth(16)
                    .limit_complexity(5_000)
                    .finish();
                drop(runtime.block_on(schema.execute(text)));
            })
            .expect("a thread")
            .join();
        assert!(ran.is_ok(), "parsing panicked");
    }

    /// A schema in which the generated documents are valid as far as they can be: `a` nests, `leaf` takes
    /// any value.
    struct Echo;

    #[Object]
    impl Echo {
        async fn a(&self, b: Option<String>) -> Echo {
            let _ = b;
            Echo
        }

        async fn leaf(&self, s: Option<Json<serde_json::Value>>) -> i32 {
            s.map_or(0, |Json(value)| i32::from(value.is_array()))
        }
    }

    proptest! {
        #![proptest_config(Config { cases: 256, failure_persistence: None, ..Config::default() })]

        #[test]
        fn the_scanner_measures_the_true_depth_of_generated_documents(document in document()) {
            prop_assert_eq!(depth(&document.text), document.depth, "{}", document.text);
            prop_assert_eq!(check(&document.text, document.depth), Ok(()));
            prop_assert!(document.depth == 0 || check(&document.text, document.depth - 1).is_err());
        }

        #[test]
        fn what_the_scanner_lets_through_parses_and_runs_without_overflowing_a_worker_stack(
            document in document(),
            edits in edits(),
        ) {
            let text = apply(&document.text, &edits);
            if check(&text, LIMIT).is_ok() {
                parse_and_run_on_a_worker_stack(text);
            }
        }
    }
}
