//! What the outside world checks the server against: the graphql-http audit suite (the GraphQL-over-HTTP
//! spec) and GraphiQL in a real browser (Debian's Chromium, driven by playwright-core).
//!
//! Both drive node scripts in `tests/node`. Neither depends on the database, so they run on SQLite only.
//! Without Node, `tests/node/node_modules` or (for the browser) Chromium they say SKIPPED and pass, unless
//! `WECO_REQUIRE_SERVICES=1` (as in CI), where a missing piece fails.

use e2e::{Backend, TestApp, node_clients_dir, services_required};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::ChildStdout;

/// The browser: `$CHROMIUM`, else Debian's `/usr/bin/chromium`; `None` (after saying so) when it is missing
/// and services are not required.
fn chromium() -> Option<PathBuf> {
    let path = PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    if path.exists() {
        return Some(path);
    }
    assert!(
        !services_required(),
        "Chromium is required (WECO_REQUIRE_SERVICES=1) but {} is missing: apt-get install -y chromium",
        path.display()
    );
    eprintln!(
        "SKIPPED: no Chromium at {}; `apt-get install -y chromium` (or set CHROMIUM) to run this test",
        path.display()
    );
    None
}

/// `tests/node` with the package `package` installed, or `None` (after saying so).
fn node_dir_with(package: &str) -> Option<PathBuf> {
    let dir = node_clients_dir()?;
    if dir.join("node_modules").join(package).exists() {
        return Some(dir);
    }
    assert!(
        !services_required(),
        "tests/node/node_modules/{package} is required (WECO_REQUIRE_SERVICES=1): run `npm ci --prefix tests/node`"
    );
    eprintln!(
        "SKIPPED: tests/node/node_modules/{package} is missing; run `npm ci --prefix tests/node` to run this test"
    );
    None
}

/// The next JSON line the browser script prints; a line with `error` fails the test with it.
async fn next_line(lines: &mut Lines<BufReader<ChildStdout>>, wait: Duration, what: &str) -> Value {
    let line = tokio::time::timeout(wait, lines.next_line()).await;
    let line = line
        .unwrap_or_else(|_| panic!("the browser script did not report {what} within {wait:?}"))
        .expect("reading the browser script's output")
        .unwrap_or_else(|| panic!("the browser script ended before reporting {what}"));
    let value: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("not a JSON line: {line}"));
    assert!(value.get("error").is_none(), "the browser script failed while waiting for {what}: {value:#}");
    value
}

#[tokio::test(flavor = "current_thread")]
async fn graphiql_runs_a_query_and_a_live_subscription_in_chromium() {
    let Some(browser) = chromium() else { return };
    let Some(dir) = node_dir_with("playwright-core") else { return };
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else { return };
    let (token, _) = app.register("ada").await;
    let space = app.create_space(&token, "agora", None).await;
    // The subscription resumes after the space's newest post, so the one the test adds reaches the browser
    // whether or not the server has registered the subscription by then (see graphiql.mjs).
    app.create_post(&token, &[&space], "before the browser").await;
    let data = app
        .ok(
            None,
            "query($s: ID) { space(id: $s) { posts(first: 1, sort: NEW) { edges { cursor } } } }",
            json!({ "s": space }),
        )
        .await;
    let after = data["space"]["posts"]["edges"][0]["cursor"].as_str().expect("a cursor").to_owned();
    let title = "seen in the browser";

    let mut child = tokio::process::Command::new("node")
        .arg(dir.join("graphiql.mjs"))
        .arg(format!("http://{}", app.addr))
        .arg(&token)
        .arg(&space)
        .arg(&after)
        .arg(title)
        .arg(std::env::temp_dir())
        .env("CHROMIUM", &browser)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();

    // A cold Chromium start and GraphiQL's first render take a few seconds on two cores.
    assert_eq!(next_line(&mut lines, Duration::from_secs(60), "the page").await, json!({ "loaded": true }));

    // The query typed into the editor ran over HTTP with the token from the Headers tab.
    let query = next_line(&mut lines, Duration::from_secs(30), "the query result").await;
    assert_eq!(
        query["query"],
        json!({ "data": { "me": { "handle": "ada" }, "space": { "handle": "all", "name": "All" } } }),
        "{query}"
    );

    // The subscription is on the socket, which carried the Headers tab as its `connection_init` payload.
    let subscribed = next_line(&mut lines, Duration::from_secs(30), "the subscription").await;
    assert_eq!(subscribed["subscribed"], true, "{subscribed}");
    assert_eq!(subscribed["initPayload"], json!({ "Authorization": format!("Bearer {token}") }), "{subscribed}");
    let post = app.create_post(&token, &[&space], title).await;
    let added = next_line(&mut lines, Duration::from_secs(30), "the new post").await;
    assert_eq!(
        added["added"],
        json!({ "data": { "spaceFeed": { "__typename": "PostAdded", "post": { "title": title, "creator": { "handle": "ada" } } } } }),
        "{added}"
    );
    // The subscription has delivered, so it is registered: this event can only arrive live.
    app.ok(Some(&token), "mutation($p: ID!) { likePost(postId: $p) { id } }", json!({ "p": post })).await;
    let liked = next_line(&mut lines, Duration::from_secs(30), "the like").await;
    assert_eq!(
        liked["liked"],
        json!({ "data": { "spaceFeed": { "__typename": "PostStatsChanged", "totalLikes": 1 } } }),
        "{liked}"
    );
    let done = next_line(&mut lines, Duration::from_secs(30), "the end").await;
    assert_eq!(done["done"], true, "{done}");
    // Worth a look when GraphiQL changes: the pages as a person saw them.
    println!("GraphiQL screenshots: {}", done["screenshots"]);
    let status =
        tokio::time::timeout(Duration::from_secs(20), child.wait()).await.expect("node exits").expect("status");
    assert!(status.success(), "the browser script exited with {status}");
}

/// What node's TAP output says about the audits: each audit is one test; a MUST that fails is `not ok`, and a
/// SHOULD or MAY that is not met passes with one `# warn: …` or `# notice: …` diagnostic.
#[derive(Debug, Default)]
struct AuditSummary {
    ok: usize,
    warn: usize,
    notice: usize,
    error: usize,
    failed: Vec<String>,
    /// `(audit, "warn: …")` for each SHOULD or MAY not met.
    findings: Vec<(String, String)>,
}

fn summarize_audit(tap: &str) -> AuditSummary {
    let mut summary = AuditSummary::default();
    let mut passed = 0;
    // Node prints a test's diagnostics after its result, so they belong to the last test named.
    let mut audit = "";
    for line in tap.lines() {
        if let Some(name) = line.strip_prefix("# Subtest: ") {
            audit = name;
        } else if let Some(result) = line.strip_prefix("not ok ") {
            summary.error += 1;
            summary.failed.push(result.split_once(" - ").map_or(result, |(_, n)| n).to_owned());
        } else if line.starts_with("ok ") {
            passed += 1;
        } else if let Some(finding) =
            line.strip_prefix("# ").filter(|l| l.starts_with("warn: ") || l.starts_with("notice: "))
        {
            if finding.starts_with("warn: ") {
                summary.warn += 1;
            } else {
                summary.notice += 1;
            }
            summary.findings.push((audit.to_owned(), finding.to_owned()));
        }
    }
    summary.ok = passed - (summary.warn + summary.notice).min(passed);
    summary
}

#[tokio::test(flavor = "current_thread")]
async fn the_graphql_http_audit_finds_no_must_failure() {
    let Some(dir) = node_dir_with("graphql-http") else { return };
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else { return };

    // The TAP reporter by name: node picks another one when its output is a terminal.
    let run = tokio::process::Command::new("node")
        .args(["--test", "--test-reporter=tap", "audit.test.mjs"])
        .current_dir(&dir)
        .env("GRAPHQL_URL", app.url("/graphql"))
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), run).await.expect("the audit ends").expect("node runs");
    let tap = String::from_utf8_lossy(&output.stdout);
    let summary = summarize_audit(&tap);
    let total = summary.ok + summary.warn + summary.notice + summary.error;
    println!(
        "graphql-http audit: {} ok, {} warn, {} notice, {} error (of {total})",
        summary.ok, summary.warn, summary.notice, summary.error
    );
    for failed in &summary.failed {
        println!("  error: {failed}");
    }
    for (audit, finding) in &summary.findings {
        println!("  {finding} ({audit})");
    }
    // graphql-http 1.23 has 61 audits; far fewer means the suite did not run against the server at all.
    assert!(total >= 50, "only {total} audits ran:\n{tap}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        summary.error == 0 && output.status.success(),
        "MUST audits failed: {:#?}\n{tap}\n{}",
        summary.failed,
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn audit_output_is_counted_per_status() {
    let tap = "TAP version 13\n# Subtest: A MUST x\nok 1 - A MUST x\n# Subtest: B SHOULD y\nok 2 - B SHOULD y\n\
               # warn: nope\n# Subtest: C MAY z\nok 3 - C MAY z\n# notice: meh\n# Subtest: D MUST w\n\
               not ok 4 - D MUST w\n# tests 4\n";
    let s = summarize_audit(tap);
    assert_eq!((s.ok, s.warn, s.notice, s.error), (1, 1, 1, 1));
    assert_eq!(s.failed, ["D MUST w"]);
    assert_eq!(
        s.findings,
        [("B SHOULD y".to_owned(), "warn: nope".to_owned()), ("C MAY z".into(), "notice: meh".into())]
    );
}
