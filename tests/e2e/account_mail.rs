//! Account mail through a real SMTP server (a sink on 127.0.0.1 started by each test): password resets and
//! e-mail verification by mailed one-time tokens, and what happens with mail off.

use e2e::smtp::SmtpSink;
use e2e::{Backend, TestApp, on_both_backends};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

/// For each `async fn name(app: TestApp, sink: SmtpSink)`, a SQLite and a PostgreSQL test whose server sends
/// mail to a sink of its own.
macro_rules! with_a_mail_sink {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "current_thread")]
                async fn sqlite() {
                    super::run(e2e::Backend::Sqlite, super::$name).await;
                }

                #[tokio::test(flavor = "current_thread")]
                async fn postgres() {
                    super::run(e2e::Backend::Postgres, super::$name).await;
                }
            }
        )*
    };
}

with_a_mail_sink!(
    a_mailed_reset_token_sets_the_password_and_ends_every_session,
    a_reset_token_works_once_and_not_after_it_expired_or_a_later_reset,
    an_unknown_address_gets_true_and_no_mail_and_mails_are_limited_per_account,
    the_address_is_verified_by_the_mailed_token_and_again_after_a_change,
);
on_both_backends!(with_mail_off_everything_works_and_nothing_is_queued);

/// A mail server that refuses the first mail with a temporary failure.
mod a_mail_the_server_refuses_is_sent_again_later {
    use e2e::smtp::SmtpSink;

    #[tokio::test(flavor = "current_thread")]
    async fn sqlite() {
        super::run_with(e2e::Backend::Sqlite, SmtpSink::refusing(1).await, super::refused_then_sent).await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn postgres() {
        super::run_with(e2e::Backend::Postgres, SmtpSink::refusing(1).await, super::refused_then_sent).await;
    }
}

async fn run<F: AsyncFnOnce(TestApp, SmtpSink)>(backend: Backend, test: F) {
    run_with(backend, SmtpSink::start().await, test).await;
}

async fn run_with<F: AsyncFnOnce(TestApp, SmtpSink)>(backend: Backend, sink: SmtpSink, test: F) {
    let url = sink.url();
    if let Some(app) = TestApp::spawn_with(backend, |s| s.smtp_url = Some(url)).await {
        test(app, sink).await;
    }
}

const ME: &str = "{ me { handle email emailVerified } }";
const LOGIN: &str = "mutation($l: String!, $p: String!) { login(input: { login: $l, password: $p }) { token } }";
const REQUEST_RESET: &str = "mutation($e: String!) { requestPasswordReset(email: $e) }";
const RESET: &str = "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) { token user { handle emailVerified } } }";
const VERIFY: &str = "mutation($t: String!) { verifyEmail(token: $t) { handle } }";
const CHANGE_EMAIL: &str =
    "mutation($p: String!, $e: String!) { changeEmail(password: $p, email: $e) { handle email emailVerified } }";

async fn login(app: &TestApp, login: &str, password: &str) -> Result<String, String> {
    let body = app.gql(None, LOGIN, json!({ "l": login, "p": password })).await;
    match body["data"]["login"]["token"].as_str() {
        Some(token) => Ok(token.to_owned()),
        None => Err(body["errors"][0]["extensions"]["code"].as_str().unwrap_or_default().to_owned()),
    }
}

/// Whether `token` still works.
async fn works(app: &TestApp, token: &str) -> bool {
    let body = app.gql(Some(token), ME, json!({})).await;
    match body["data"]["me"]["handle"].as_str() {
        Some(_) => true,
        None => {
            assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{body}");
            false
        }
    }
}

async fn request_reset(app: &TestApp, email: &str) {
    assert_eq!(app.ok(None, REQUEST_RESET, json!({ "e": email })).await["requestPasswordReset"], true);
}

/// The reset mails to `address` once there are `n`, with their tokens.
async fn reset_tokens(sink: &SmtpSink, address: &str, n: usize) -> Vec<String> {
    let mut tokens = Vec::new();
    for _ in 0..50 {
        let mails = sink.wait_for(address, 1).await;
        let resets: Vec<_> = mails
            .iter()
            .filter(|m| m.header("Subject").is_some_and(|s| s.contains("Reset your Weco password")))
            .collect();
        if resets.len() >= n {
            tokens = resets.iter().map(|m| m.token().expect("a token in the mail")).collect();
            break;
        }
        e2e::eventually("another reset mail", async || sink.mails_to(address).len() > mails.len()).await;
    }
    assert_eq!(tokens.len(), n, "reset mails to {address}");
    tokens
}

async fn reset(app: &TestApp, token: &str, password: &str) -> Value {
    app.gql(None, RESET, json!({ "t": token, "p": password })).await
}

async fn a_mailed_reset_token_sets_the_password_and_ends_every_session(app: TestApp, sink: SmtpSink) {
    let (first, _) = app.register("ada").await;
    let second = login(&app, "ada", "password-123").await.expect("login");
    request_reset(&app, "ADA@example.org ").await;
    let token = reset_tokens(&sink, "ada@example.org", 1).await.remove(0);
    let mail = &sink.mails_to("ada@example.org")[1];
    assert_eq!(mail.from, "noreply@localhost");
    assert!(mail.data.contains("@ada"), "the mail names the account: {}", mail.data);

    let body = reset(&app, &token, "new-password-456").await;
    let payload = &body["data"]["resetPassword"];
    assert_eq!(payload["user"]["handle"], "ada", "{body}");
    let fresh = payload["token"].as_str().expect("a new token");
    let me = app.ok(Some(fresh), ME, json!({})).await;
    assert_eq!(me["me"]["emailVerified"], true, "the token reached the address");
    assert!(works(&app, fresh).await);
    assert!(!works(&app, &first).await, "every earlier session ends");
    assert!(!works(&app, &second).await, "every earlier session ends");
    assert_eq!(login(&app, "ada", "password-123").await, Err("UNAUTHENTICATED".into()), "the old password");
    assert!(login(&app, "ada@example.org", "new-password-456").await.is_ok(), "the new password");
    // The reset token is gone: a second use is refused, as is a weak new password.
    let again = reset(&app, &token, "another-password-789").await;
    assert_eq!(again["errors"][0]["extensions"]["code"], "VALIDATION", "{again}");
    assert_eq!(again["errors"][0]["extensions"]["field"], "token", "{again}");
    let weak = app.error_code(None, RESET, json!({ "t": token, "p": "short" })).await;
    assert_eq!(weak, "VALIDATION");
    app.assert_invariants().await;
}

async fn a_reset_token_works_once_and_not_after_it_expired_or_a_later_reset(app: TestApp, sink: SmtpSink) {
    app.register("bob").await;
    request_reset(&app, "bob@example.org").await;
    request_reset(&app, "bob@example.org").await;
    let tokens = reset_tokens(&sink, "bob@example.org", 2).await;
    // The second works; the first, unused, was voided by it.
    let body = reset(&app, &tokens[1], "second-password").await;
    assert!(body["data"]["resetPassword"]["token"].is_string(), "{body}");
    let first = reset(&app, &tokens[0], "first-password").await;
    assert_eq!(first["errors"][0]["extensions"]["code"], "VALIDATION", "{first}");
    assert!(login(&app, "bob", "second-password").await.is_ok());

    // An expired token is refused (its expiry moved into the past).
    request_reset(&app, "bob@example.org").await;
    let late = reset_tokens(&sink, "bob@example.org", 3).await.remove(2);
    let db = app.db().await;
    let expired = db
        .execute_unprepared(
            "UPDATE account_tokens SET expires_at = created_at WHERE used_at IS NULL AND purpose = 'RESET'",
        )
        .await
        .expect("expiring the token");
    assert_eq!(expired.rows_affected(), 1);
    let body = reset(&app, &late, "late-password").await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "VALIDATION", "{body}");
    assert!(login(&app, "bob", "second-password").await.is_ok(), "the password stays");
    // Only hashes are kept.
    let stored = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT token_hash FROM account_tokens",
        ))
        .await
        .expect("reading tokens");
    for row in stored {
        let hash: String = row.try_get("", "token_hash").expect("hash");
        assert!(!tokens.contains(&hash) && hash != late, "a token is stored in the clear");
    }
    // Nonsense is refused the same way.
    for bad in ["", "nope", &"f".repeat(200)] {
        assert_eq!(app.error_code(None, RESET, json!({ "t": bad, "p": "whatever-123" })).await, "VALIDATION");
    }
}

async fn an_unknown_address_gets_true_and_no_mail_and_mails_are_limited_per_account(app: TestApp, sink: SmtpSink) {
    app.register("cleo").await;
    app.register("dan").await;
    sink.wait_for("dan@example.org", 1).await;
    request_reset(&app, "nobody@example.org").await;
    for _ in 0..5 {
        request_reset(&app, "cleo@example.org").await;
    }
    assert_eq!(app.error_code(None, REQUEST_RESET, json!({ "e": "not-an-address" })).await, "VALIDATION");
    // Mails are sent in the order they were queued: once dan's comes, every earlier one came.
    request_reset(&app, "dan@example.org").await;
    reset_tokens(&sink, "dan@example.org", 1).await;
    assert!(sink.mails_to("nobody@example.org").is_empty(), "no mail to an address without an account");
    let cleo = sink.mails_to("cleo@example.org");
    assert_eq!(cleo.len(), 1 + 3, "the verification mail, then 3 resets an hour at most");
}

async fn the_address_is_verified_by_the_mailed_token_and_again_after_a_change(app: TestApp, sink: SmtpSink) {
    let (token, _) = app.register("eve").await;
    let (other, _) = app.register("fay").await;
    let me = app.ok(Some(&token), ME, json!({})).await;
    assert_eq!(me["me"], json!({ "handle": "eve", "email": "eve@example.org", "emailVerified": false }));
    let seen = app.ok(Some(&other), "{ user(handle: \"eve\") { email emailVerified } }", json!({})).await;
    assert_eq!(seen["user"], json!({ "email": null, "emailVerified": null }), "the address is the user's own");

    let mail = sink.wait_for("eve@example.org", 1).await.remove(0);
    assert!(mail.header("Subject").is_some_and(|s| s.contains("Confirm your e-mail")), "{mail:?}");
    let code = mail.token().expect("a token");
    let verified = app.ok(None, VERIFY, json!({ "t": code })).await;
    assert_eq!(verified["verifyEmail"]["handle"], "eve");
    assert_eq!(app.ok(Some(&token), ME, json!({})).await["me"]["emailVerified"], true);
    assert_eq!(app.error_code(None, VERIFY, json!({ "t": code })).await, "VALIDATION", "used once");

    // A new address is unverified until its own token comes back; the old address's token is void.
    let vars = |p: &str, e: &str| json!({ "p": p, "e": e });
    assert_eq!(
        app.error_code(Some(&token), CHANGE_EMAIL, vars("wrong-password", "eve2@example.org")).await,
        "VALIDATION"
    );
    assert_eq!(app.error_code(Some(&token), CHANGE_EMAIL, vars("password-123", "fay@example.org")).await, "CONFLICT");
    assert_eq!(app.error_code(None, CHANGE_EMAIL, vars("password-123", "eve2@example.org")).await, "UNAUTHENTICATED");
    let changed = app.ok(Some(&token), CHANGE_EMAIL, vars("password-123", "Eve2@example.org")).await;
    assert_eq!(changed["changeEmail"], json!({ "handle": "eve", "email": "eve2@example.org", "emailVerified": false }));
    let code = sink.wait_for("eve2@example.org", 1).await.remove(0).token().expect("a token");
    assert!(login(&app, "eve2@example.org", "password-123").await.is_ok(), "the new address logs in");
    assert_eq!(login(&app, "eve@example.org", "password-123").await, Err("UNAUTHENTICATED".into()));
    app.ok(None, VERIFY, json!({ "t": code })).await;
    assert_eq!(app.ok(Some(&token), ME, json!({})).await["me"]["emailVerified"], true);
    // Nothing to resend once verified.
    let resend = app.ok(Some(&token), "mutation { requestEmailVerification }", json!({})).await;
    assert_eq!(resend["requestEmailVerification"], false);
}

async fn with_mail_off_everything_works_and_nothing_is_queued(app: TestApp) {
    let (token, _) = app.register("gus").await;
    request_reset(&app, "gus@example.org").await;
    let resend = app.ok(Some(&token), "mutation { requestEmailVerification }", json!({})).await;
    assert_eq!(resend["requestEmailVerification"], false, "no mail was sent");
    let db = app.db().await;
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT id FROM jobs WHERE kind = 'mail.send'",
        ))
        .await
        .expect("reading jobs");
    assert!(rows.is_empty(), "no mail job without a mail server");
    assert_eq!(app.ok(Some(&token), ME, json!({})).await["me"]["emailVerified"], false);
}

async fn refused_then_sent(app: TestApp, sink: SmtpSink) {
    app.register("hal").await;
    e2e::eventually("the refusal", async || sink.refusals_left() == 0).await;
    assert!(sink.mails_to("hal@example.org").is_empty(), "refused, not kept");
    // The job is retried after its back-off (4 s after a first failure), and the mail arrives once.
    let mails = sink.wait_for("hal@example.org", 1).await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].token().is_some());
}
