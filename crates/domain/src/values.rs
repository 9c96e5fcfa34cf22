//! Value types that can only hold valid values. Parse once at the edge; trust them afterwards.

use crate::error::{DomainError, DomainResult};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A user's or a space's handle: lower-case letters, digits, `-` and `_`, 2 to 40 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Handle(String);

impl Handle {
    pub const MIN: usize = 2;
    pub const MAX: usize = 40;

    /// Parses `raw` as given; `field` names the input in the error.
    pub fn parse(raw: &str, field: &str) -> DomainResult<Self> {
        let len = raw.chars().count();
        if !(Self::MIN..=Self::MAX).contains(&len) {
            return Err(DomainError::validation(
                field,
                format!("must be {} to {} characters long", Self::MIN, Self::MAX),
            ));
        }
        if let Some(bad) =
            raw.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_'))
        {
            return Err(DomainError::validation(
                field,
                format!("may hold only lower-case letters, digits, '-' and '_' (found {bad:?})"),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Trimmed text with a length bound; `required` text may not be empty.
fn bounded_text(raw: &str, field: &str, max: usize, required: bool) -> DomainResult<String> {
    let trimmed = raw.trim();
    if required && trimmed.is_empty() {
        return Err(DomainError::validation(field, "must not be empty"));
    }
    if trimmed.chars().count() > max {
        return Err(DomainError::validation(field, format!("must be at most {max} characters long")));
    }
    if trimmed.chars().any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r') {
        return Err(DomainError::validation(field, "must not contain control characters"));
    }
    Ok(trimmed.to_owned())
}

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $max:expr, $required:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub const MAX: usize = $max;

            pub fn parse(raw: &str, field: &str) -> DomainResult<Self> {
                bounded_text(raw, field, $max, $required).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_inner(self) -> String {
                self.0
            }
        }
    };
}

text_type!(
    /// A user's display name.
    UserName, 100, true
);
text_type!(
    /// A space's display name.
    SpaceName, 100, true
);
text_type!(
    /// A space's description (may be empty).
    Description, 10_000, false
);
text_type!(
    /// What a user says about themselves (may be empty).
    Bio, 1_000, false
);
text_type!(
    /// A stream's name.
    StreamName, 100, true
);
text_type!(
    /// A group chat's name.
    ChatName, 100, true
);
text_type!(
    /// A chat message's text.
    MessageText, 4_000, true
);
text_type!(
    /// Where an event takes place (may be empty).
    EventLocation, 300, false
);

/// Whether `c` is a control character, or an invisible formatting one that can make text read other than it
/// is (bidirectional overrides and isolates such as U+202E, zero-width characters, the byte-order mark).
pub fn is_control_or_format(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// What `login(input: { login })` names, as it is looked up: trimmed and lower-cased (handles and e-mail
/// addresses are both stored lower-cased, so a login matches whatever its case). Control and formatting
/// characters are refused.
pub fn parse_login(raw: &str, field: &str) -> DomainResult<String> {
    let login = raw.trim().to_lowercase();
    if login.chars().count() > 254 {
        return Err(DomainError::validation(field, "must be at most 254 characters long"));
    }
    if login.chars().any(is_control_or_format) {
        return Err(DomainError::validation(field, "must not contain control or formatting characters"));
    }
    Ok(login)
}

/// An e-mail address: one `@` with something on each side. Stored lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str, field: &str) -> DomainResult<Self> {
        let trimmed = raw.trim().to_lowercase();
        let mut parts = trimmed.split('@');
        let valid = matches!(
            (parts.next(), parts.next(), parts.next()),
            (Some(local), Some(domain), None) if !local.is_empty() && !domain.is_empty()
        );
        if !valid {
            return Err(DomainError::validation(field, "must contain exactly one '@' with text on both sides"));
        }
        if trimmed.len() > 254 || trimmed.chars().any(|c| c.is_whitespace() || is_control_or_format(c)) {
            return Err(DomainError::validation(field, "is not a valid e-mail address"));
        }
        Ok(Self(trimmed))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password: 8 to 256 characters. Never logged, never stored.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub const MIN: usize = 8;
    pub const MAX: usize = 256;

    pub fn parse(raw: &str, field: &str) -> DomainResult<Self> {
        let len = raw.chars().count();
        if len < Self::MIN {
            return Err(DomainError::validation(field, format!("must be at least {} characters long", Self::MIN)));
        }
        if len > Self::MAX {
            return Err(DomainError::validation(field, format!("must be at most {} characters long", Self::MAX)));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Who may see a space's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Privacy {
    Public,
    Private,
}

/// The life of a request (space attachment, access).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RequestState {
    Pending,
    Accepted,
    Rejected,
}

/// How child-space listings are ordered (always descending, ties broken by id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpaceSort {
    Likes,
    Posts,
    Comments,
    Followers,
    New,
}

/// How far below a space a listing or feed reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Depth {
    /// This space and everything it contains.
    All,
    /// Only what sits directly in (or directly under) this space.
    Direct,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_of_lowercase_letters_digits_dash_and_underscore_is_accepted() {
        for ok in ["ab", "dna", "science-2", "a_b", &"x".repeat(40)] {
            assert!(Handle::parse(ok, "handle").is_ok(), "{ok}");
        }
    }

    #[test]
    fn a_handle_too_short_or_too_long_is_rejected_naming_the_field() {
        for bad in ["", "a", &"x".repeat(41)] {
            let err = Handle::parse(bad, "input.handle").expect_err(bad);
            assert_eq!(err.code(), "VALIDATION");
            assert!(err.to_string().starts_with("input.handle:"), "{err}");
        }
    }

    #[test]
    fn a_handle_with_capitals_spaces_or_symbols_is_rejected() {
        for bad in ["Science", "sci ence", "sci.ence", "ü-ber", "a/b", "tab\t"] {
            assert!(Handle::parse(bad, "handle").is_err(), "{bad}");
        }
    }

    #[test]
    fn an_email_needs_exactly_one_at_with_text_around_it() {
        assert_eq!(Email::parse(" Ada@Example.org ", "email").map(|e| e.0).ok(), Some("ada@example.org".into()));
        for bad in ["", "ada", "@example.org", "ada@", "a@b@c", "a b@c.d"] {
            assert!(Email::parse(bad, "email").is_err(), "{bad}");
        }
    }

    #[test]
    fn an_email_or_a_login_with_control_or_bidi_characters_is_refused() {
        for bad in
            ["a\u{0}b@c.d", "ada@example.org\u{7}", "ada\u{202E}gro.elpmaxe@x.y", "a\u{200B}@b.c", "\u{FEFF}a@b.c"]
        {
            assert_eq!(Email::parse(bad, "email").map_err(|e| e.code()).err(), Some("VALIDATION"), "{bad:?}");
            assert_eq!(parse_login(bad, "login").map_err(|e| e.code()).err(), Some("VALIDATION"), "{bad:?}");
        }
        assert_eq!(parse_login("  Maya ", "login").ok().as_deref(), Some("maya"));
        assert_eq!(parse_login("Ada@Example.ORG", "login").ok().as_deref(), Some("ada@example.org"));
        assert!(Email::parse("josé@example.org", "email").is_ok(), "letters beyond ASCII are fine");
    }

    #[test]
    fn a_password_needs_at_least_eight_characters() {
        assert!(Password::parse("1234567", "password").is_err());
        assert!(Password::parse("12345678", "password").is_ok());
    }

    #[test]
    fn a_password_never_shows_in_debug_output() {
        let p = Password::parse("hunter22hunter22", "password").expect("valid");
        assert!(!format!("{p:?}").contains("hunter"));
    }

    #[test]
    fn names_are_trimmed_and_may_not_be_blank() {
        assert_eq!(SpaceName::parse("  Science ", "name").map(|n| n.0).ok(), Some("Science".into()));
        assert!(SpaceName::parse("   ", "name").is_err());
        assert!(SpaceName::parse(&"n".repeat(101), "name").is_err());
        assert!(Description::parse("", "description").is_ok());
    }
}

/// What a post holds; a post may combine several kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PostKind {
    Text,
    Url,
    Image,
    Audio,
    Event,
    Poll,
    Card,
}

impl PostKind {
    pub const ALL: [PostKind; 7] =
        [Self::Text, Self::Url, Self::Image, Self::Audio, Self::Event, Self::Poll, Self::Card];
}

/// How a feed is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeedSort {
    /// Newest first.
    New,
    /// Most recent activity (new comments) first.
    Active,
    /// Highest `FeedMetric` first, among posts created within the time range.
    Top,
    /// A score that rises with engagement and decays with age.
    Hot,
}

/// What TOP ranks by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeedMetric {
    Likes,
    Comments,
    Reposts,
    Ratings,
    Links,
}

/// Which posts a TOP feed considers, by age.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeRange {
    Hour,
    Day,
    Week,
    Month,
    Year,
    All,
}

impl TimeRange {
    /// The oldest creation time the range admits, counted back from `now`.
    pub fn since(self, now: chrono::DateTime<chrono::Utc>) -> Option<chrono::DateTime<chrono::Utc>> {
        let span = match self {
            Self::Hour => chrono::Duration::hours(1),
            Self::Day => chrono::Duration::days(1),
            Self::Week => chrono::Duration::weeks(1),
            Self::Month => chrono::Duration::days(30),
            Self::Year => chrono::Duration::days(365),
            Self::All => return None,
        };
        Some(now - span)
    }
}

/// Whose reactions rank a TOP or HOT feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeedScope {
    /// Every reaction, wherever it was cast.
    Global,
    /// Only reactions cast in this space or the spaces below it (the exposure gradient): a post climbs the
    /// holarchy one level at a time.
    Local,
}

/// The HOT score: the order of magnitude of engagement plus the creation time in units of 12.5 hours, so
/// ten times the engagement is worth half a day of freshness. The score of a post changes only when its
/// engagement does, so it can be stored and indexed.
pub fn hot_score(engagement: i64, created_at: chrono::DateTime<chrono::Utc>) -> f64 {
    let magnitude = (engagement.max(1) as f64).log10();
    magnitude + (created_at.timestamp() - HOT_EPOCH) as f64 / HOT_SECONDS_PER_UNIT
}

/// The time from which [`hot_score`] counts freshness, in Unix seconds.
pub const HOT_EPOCH: i64 = 1_700_000_000;

/// The seconds of freshness worth one order of magnitude of engagement in [`hot_score`] (12.5 hours).
pub const HOT_SECONDS_PER_UNIT: f64 = 45_000.0;

/// Post title: up to 300 characters.
pub fn parse_title(raw: Option<&str>) -> DomainResult<Option<String>> {
    optional_text(raw, "input.title", 300)
}

/// Post text: up to 40,000 characters.
pub fn parse_post_text(raw: Option<&str>) -> DomainResult<Option<String>> {
    optional_text(raw, "input.text", 40_000)
}

/// A web address: http or https, up to 2,000 characters.
pub fn parse_url(raw: Option<&str>) -> DomainResult<Option<String>> {
    let Some(url) = optional_text(raw, "input.url", 2_000)? else { return Ok(None) };
    let lower = url.to_ascii_lowercase();
    let rest = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !url.chars().any(char::is_whitespace) => Ok(Some(url)),
        _ => Err(DomainError::validation("input.url", "must be an http:// or https:// address")),
    }
}

/// A search query: trimmed, 1 to 200 characters, no control characters.
pub fn parse_search_query(raw: &str, field: &str) -> DomainResult<String> {
    bounded_text(raw, field, 200, true).and_then(|q| {
        if q.chars().any(char::is_control) {
            Err(DomainError::validation(field, "must not contain control characters"))
        } else {
            Ok(q)
        }
    })
}

/// Comment text: 1 to 10,000 characters.
pub fn parse_comment_text(raw: &str) -> DomainResult<String> {
    bounded_text(raw, "input.text", 10_000, true)
}

fn optional_text(raw: Option<&str>, field: &str, max: usize) -> DomainResult<Option<String>> {
    match raw {
        None => Ok(None),
        Some(raw) => {
            let text = bounded_text(raw, field, max, false)?;
            Ok((!text.is_empty()).then_some(text))
        }
    }
}

#[cfg(test)]
mod post_tests {
    use super::*;

    #[test]
    fn hot_scores_rise_with_engagement_and_with_freshness() {
        let t = chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("time");
        assert!(hot_score(10, t) > hot_score(1, t));
        assert_eq!(hot_score(0, t), hot_score(1, t));
        let later = t + chrono::Duration::seconds(45_000);
        assert!((hot_score(1, later) - hot_score(10, t)).abs() < 1e-9, "10x engagement = 12.5 hours");
    }

    #[test]
    fn urls_must_be_http_or_https() {
        assert_eq!(parse_url(Some(" https://weco.io/x ")).ok(), Some(Some("https://weco.io/x".into())));
        assert_eq!(parse_url(Some("")).ok(), Some(None));
        for bad in ["ftp://x", "javascript:alert(1)", "https://", "http://a b"] {
            assert_eq!(parse_url(Some(bad)).map_err(|e| e.code()), Err("VALIDATION"), "{bad}");
        }
    }

    #[test]
    fn time_ranges_count_back_from_now() {
        let now = chrono::Utc::now();
        assert_eq!(TimeRange::All.since(now), None);
        assert_eq!(TimeRange::Day.since(now), Some(now - chrono::Duration::days(1)));
    }
}
