//! Fetching URL cards without server-side request forgery: only `http` and `https`; every host name is
//! resolved by [`PublicOnly`], which refuses a name with any address that is not public (loopback, private,
//! link-local, carrier-grade NAT, documentation, multicast, unique-local, …); an address written in the URL is
//! checked the same way, on the first request and on every redirect hop (at most 5, followed one by one). No
//! proxy is used. The whole fetch has a timeout, and at most `max_bytes` of the body are read. `allow_private` (and
//! `allowed_hosts`, for `host:port` pairs) lift the address rule, for tests and intranets.

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioExecutor;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use url::Url;
use weco_domain::media::CardData;
use weco_domain::media::ports::{CardFetcher, FetchRefused};
use weco_domain::{DomainError, DomainResult};

/// Longest title, description and image address kept, in characters.
pub const MAX_TITLE: usize = 300;
pub const MAX_DESCRIPTION: usize = 1_000;
pub const MAX_IMAGE_URL: usize = 2_000;
/// Redirects followed.
pub const MAX_REDIRECTS: usize = 5;

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            // NAT64 (64:ff9b::/96) carries an IPv4 address.
            if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
                return is_public_v4(Ipv4Addr::new(
                    (s[6] >> 8) as u8,
                    (s[6] & 0xff) as u8,
                    (s[7] >> 8) as u8,
                    (s[7] & 0xff) as u8,
                ));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard
                || s[0..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible and other reserved
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // carrier-grade NAT, 100.64.0.0/10
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking, 198.18.0.0/15
        || o[0] >= 240) // reserved
}

/// The address rule.
#[derive(Debug, Clone, Default)]
pub struct AddressRule {
    pub allow_private: bool,
    /// `host:port` pairs exempt from the rule.
    pub allowed_hosts: Vec<String>,
}

impl AddressRule {
    fn exempt(&self, url: &Url) -> bool {
        if self.allow_private {
            return true;
        }
        let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else { return false };
        let pair = format!("{host}:{port}");
        self.allowed_hosts.iter().any(|h| h.trim().eq_ignore_ascii_case(&pair))
    }

    /// Checks what can be checked from the URL itself: its scheme, and an address written in it. Names are
    /// checked when resolved.
    pub fn check_url(&self, url: &Url) -> Result<(), FetchRefused> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchRefused::Unusable(format!("scheme {} is not fetched", url.scheme())));
        }
        if self.exempt(url) {
            return Ok(());
        }
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(url::Host::Domain(_)) => return Ok(()),
            None => return Err(FetchRefused::Unusable("no host".into())),
        };
        if is_public(ip) { Ok(()) } else { Err(FetchRefused::NotPublic(format!("{ip} is not a public address"))) }
    }
}

/// A resolver that answers only with public addresses: a name with any other address is refused whole (so a
/// name cannot mix a public address with an internal one). The connection goes to the addresses checked here,
/// so a second lookup cannot swap them (DNS rebinding).
#[derive(Clone)]
struct PublicOnly {
    allow_private: bool,
    /// Host names of `allowed_hosts`, whose addresses are not checked (their ports are, by [`AddressRule`]).
    exempt: std::sync::Arc<Vec<String>>,
}

const NOT_PUBLIC: &str = "resolves to an address that is not public";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tower_service::Service<Name> for PublicOnly {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let host = name.as_str().to_owned();
        let allow = self.allow_private || self.exempt.iter().any(|h| h.eq_ignore_ascii_case(&host));
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow && addrs.iter().any(|a| !is_public(a.ip())) {
                return Err(format!("{host} {NOT_PUBLIC}").into());
            }
            Ok(addrs.into_iter())
        })
    }
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector<PublicOnly>>, Empty<Bytes>>;

/// The card fetcher: hyper over rustls (ring, Mozilla's roots), HTTP/1.1, redirects followed by hand so each
/// hop is checked.
pub struct HttpCardFetcher {
    client: HttpsClient,
    rule: AddressRule,
    timeout: Duration,
    max_bytes: usize,
}

impl HttpCardFetcher {
    pub fn new(rule: AddressRule, timeout: Duration, max_bytes: usize) -> anyhow::Result<Self> {
        let exempt =
            rule.allowed_hosts.iter().filter_map(|h| h.trim().rsplit_once(':')).map(|(host, _)| host.to_owned());
        let exempt = std::sync::Arc::new(exempt.collect());
        let mut http = HttpConnector::new_with_resolver(PublicOnly { allow_private: rule.allow_private, exempt });
        http.enforce_http(false);
        http.set_connect_timeout(Some(timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).build(https);
        Ok(Self { client, rule, timeout, max_bytes })
    }

    async fn fetch_within(&self, start: Url) -> DomainResult<Result<CardData, FetchRefused>> {
        let mut url = start;
        let mut hops = 0;
        let response = loop {
            if let Err(refused) = self.rule.check_url(&url) {
                return Ok(Err(refused));
            }
            let request = hyper::Request::get(url.as_str())
                .header(hyper::header::USER_AGENT, concat!("WecoCards/", env!("CARGO_PKG_VERSION")))
                .header(hyper::header::ACCEPT, "text/html,application/xhtml+xml")
                .body(Empty::<Bytes>::new())
                .map_err(|e| DomainError::internal("building a card request", e))?;
            let response = match self.client.request(request).await {
                Ok(r) => r,
                Err(e) => {
                    if let Some(why) = refused_by_rule(&e) {
                        return Ok(Err(FetchRefused::NotPublic(why)));
                    }
                    return Err(DomainError::internal("fetching a card", e));
                }
            };
            let status = response.status();
            if status.is_redirection() {
                let Some(next) = response
                    .headers()
                    .get(hyper::header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .and_then(|l| url.join(l).ok())
                else {
                    return Ok(Err(FetchRefused::Unusable(format!("a redirect ({status}) without a location"))));
                };
                hops += 1;
                if hops > MAX_REDIRECTS {
                    return Ok(Err(FetchRefused::Unusable("too many redirects".into())));
                }
                url = next;
                continue;
            }
            if status.is_server_error() {
                return Err(DomainError::internal("fetching a card", format!("the page answered {status}")));
            }
            if !status.is_success() {
                return Ok(Err(FetchRefused::Unusable(format!("the page answered {status}"))));
            }
            break response;
        };
        let html = response
            .headers()
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
            .is_some_and(|t| t == "text/html" || t == "application/xhtml+xml");
        if !html {
            return Ok(Err(FetchRefused::Unusable("not an HTML page".into())));
        }
        let mut body = response.into_body();
        let mut page = Vec::new();
        while page.len() < self.max_bytes {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(chunk) = frame.into_data() {
                        let room = self.max_bytes - page.len();
                        page.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    }
                }
                Some(Err(e)) => return Err(DomainError::internal("reading a card's page", e)),
                // What a card needs is in the head: past `max_bytes`, the rest is not read.
                None => break,
            }
        }
        let card = parse_card(&String::from_utf8_lossy(&page), &url);
        if card.title.is_none() && card.description.is_none() && card.image_url.is_none() {
            return Ok(Err(FetchRefused::Unusable("the page names no title, description or image".into())));
        }
        Ok(Ok(card))
    }
}

/// Whether a client error came from the address rule (in resolving a name).
fn refused_by_rule(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        let text = e.to_string();
        if text.contains(NOT_PUBLIC) {
            return Some(text);
        }
        source = e.source();
    }
    None
}

#[async_trait::async_trait]
impl CardFetcher for HttpCardFetcher {
    async fn fetch(&self, url: &str) -> DomainResult<Result<CardData, FetchRefused>> {
        let Ok(parsed) = Url::parse(url) else { return Ok(Err(FetchRefused::Unusable("not a URL".into()))) };
        match tokio::time::timeout(self.timeout, self.fetch_within(parsed)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(DomainError::internal("fetching a card", format!("no answer within {:?}", self.timeout))),
        }
    }
}

/// Reads a page's card: OpenGraph (`og:title`, `og:description`, `og:image`), then Twitter's tags, then
/// `<meta name="description">` and `<title>`.
pub fn parse_card(html: &str, base: &Url) -> CardData {
    let mut meta: Vec<(String, String)> = Vec::new();
    let mut title = None;
    let lower = html.to_ascii_lowercase();
    let mut at = 0;
    while let Some(start) = lower[at..].find('<').map(|i| at + i) {
        let rest = &lower[start + 1..];
        if rest.starts_with("meta") && rest[4..].starts_with(|c: char| c.is_ascii_whitespace() || c == '/') {
            let end = tag_end(html, start);
            let attrs = attributes(&html[start + 5..end]);
            let key = attrs.iter().find(|(k, _)| k == "property" || k == "name").map(|(_, v)| v.to_ascii_lowercase());
            let content = attrs.iter().find(|(k, _)| k == "content").map(|(_, v)| v.clone());
            if let (Some(key), Some(content)) = (key, content) {
                meta.push((key, content));
            }
            at = end;
        } else if title.is_none() && rest.starts_with("title") && rest[5..].starts_with(['>', ' ', '\t', '\n']) {
            let open = tag_end(html, start);
            let close = lower[open..].find("</title").map_or(html.len(), |i| open + i);
            title = Some(decode_entities(html[(open + 1).min(close)..close].trim()));
            at = close;
        } else if rest.starts_with("/head") || rest.starts_with("body") {
            break;
        } else {
            at = start + 1;
        }
    }
    let find = |keys: &[&str]| {
        keys.iter().find_map(|k| meta.iter().find(|(key, v)| key == k && !v.trim().is_empty()).map(|(_, v)| v.clone()))
    };
    let clean = |s: String, max: usize| -> Option<String> {
        let s: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
        (!s.is_empty()).then(|| s.chars().take(max).collect())
    };
    let image_url = find(&["og:image", "og:image:url", "twitter:image"])
        .and_then(|u| base.join(u.trim()).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .map(|u| u.to_string())
        .filter(|u| u.len() <= MAX_IMAGE_URL);
    CardData {
        title: find(&["og:title", "twitter:title"]).or(title).and_then(|t| clean(t, MAX_TITLE)),
        description: find(&["og:description", "twitter:description", "description"])
            .and_then(|d| clean(d, MAX_DESCRIPTION)),
        image_url,
    }
}

/// The index of the `>` that ends the tag starting at `start` (quotes respected), or the end of the text.
fn tag_end(html: &str, start: usize) -> usize {
    let mut quote = None;
    for (i, c) in html[start..].char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return start + i,
            _ => {}
        }
    }
    html.len()
}

/// The attributes of a tag's inside, names in lower case, values with entities decoded.
fn attributes(inside: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = inside.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if c.is_whitespace() || c == '/' {
            chars.next();
            continue;
        }
        let mut end = i;
        while let Some(&(j, c)) = chars.peek() {
            if c.is_whitespace() || c == '=' || c == '/' {
                break;
            }
            end = j + c.len_utf8();
            chars.next();
        }
        let name = inside[i..end].to_ascii_lowercase();
        while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().map(|(_, c)| *c) != Some('=') {
            if !name.is_empty() {
                out.push((name, String::new()));
            }
            if end == i {
                chars.next();
            }
            continue;
        }
        chars.next();
        while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
            chars.next();
        }
        let value = match chars.peek().map(|(_, c)| *c) {
            Some(q @ ('"' | '\'')) => {
                chars.next();
                let mut value = String::new();
                for (_, c) in chars.by_ref() {
                    if c == q {
                        break;
                    }
                    value.push(c);
                }
                value
            }
            _ => {
                let mut value = String::new();
                while let Some(&(_, c)) = chars.peek() {
                    if c.is_whitespace() {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
                value
            }
        };
        out.push((name, decode_entities(&value)));
    }
    out
}

/// Decodes the common named entities and numeric ones.
fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest.char_indices().take(12).find(|(_, c)| *c == ';').map(|(i, _)| i) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" | "#39" => Some('\''),
            "nbsp" => Some(' '),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_pass() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "198.18.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
        ] {
            assert!(!is_public(ip.parse().expect("ip")), "{ip} must not be public");
        }
        for ip in ["1.1.1.1", "93.184.216.34", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(ip.parse().expect("ip")), "{ip} is public");
        }
    }

    #[test]
    fn urls_with_internal_addresses_are_refused_unless_allowed() {
        let rule = AddressRule::default();
        let url = |u: &str| Url::parse(u).expect("url");
        assert!(matches!(rule.check_url(&url("http://127.0.0.1:8080/")), Err(FetchRefused::NotPublic(_))));
        assert!(matches!(rule.check_url(&url("http://[::1]/")), Err(FetchRefused::NotPublic(_))));
        assert!(matches!(rule.check_url(&url("http://0x7f.1/")), Err(FetchRefused::NotPublic(_))));
        assert!(matches!(rule.check_url(&url("file:///etc/passwd")), Err(FetchRefused::Unusable(_))));
        assert!(rule.check_url(&url("https://example.org/")).is_ok());
        let allowed = AddressRule { allow_private: false, allowed_hosts: vec!["127.0.0.1:8080".into()] };
        assert!(allowed.check_url(&url("http://127.0.0.1:8080/a")).is_ok());
        assert!(allowed.check_url(&url("http://127.0.0.1:8081/a")).is_err());
        let open = AddressRule { allow_private: true, allowed_hosts: Vec::new() };
        assert!(open.check_url(&url("http://10.0.0.1/")).is_ok());
    }

    #[test]
    fn cards_come_from_opengraph_then_meta_then_title() {
        let base = Url::parse("https://example.org/a/b").expect("url");
        let html = r#"<html><head><title>Plain &amp; simple</title>
            <meta property="og:title" content="The &quot;real&quot; title">
            <meta name=description content='A page about things'>
            <meta property="og:image" content="/img/x.png"/></head><body><meta property="og:title" content="no"></body>"#;
        let card = parse_card(html, &base);
        assert_eq!(card.title.as_deref(), Some("The \"real\" title"));
        assert_eq!(card.description.as_deref(), Some("A page about things"));
        assert_eq!(card.image_url.as_deref(), Some("https://example.org/img/x.png"));
        let card = parse_card("<title>Only &#x41;&#66; title</title>", &base);
        assert_eq!(card.title.as_deref(), Some("Only AB title"));
        assert_eq!(card.image_url, None);
        let card = parse_card(r#"<meta property="og:image" content="javascript:alert(1)">"#, &base);
        assert_eq!(card.image_url, None);
    }
}
