//! STARTTLS, LOGIN and AUTHENTICATE (RFC 9051 sections 6.2; SASL-IR, RFC 4959) through the
//! one authentication service: its lockout is shared with every other protocol, accounts
//! under a second factor need an app password, and an expired password answers `[EXPIRED]`
//! (RFC 5530). Sign-in is refused on a connection without TLS (LOGINDISABLED).

use crate::session::{After, Next, Principal, Session, State};
use carepost_audit::Actor;
use carepost_identity::{Protocol, Refusal, SignIn};
use carepost_proto_sasl::{Credentials, Exchange, Mechanism, SaslError, Step};

pub(super) fn starttls(s: &mut Session, tag: &str) -> After {
    if s.tls || !s.starttls_offered {
        s.bad(tag, "TLS is already active");
        return After::Next(Next::Continue);
    }
    s.ok(tag, None, "Begin TLS negotiation now");
    After::Next(Next::StartTls)
}

fn refuse_plaintext(s: &mut Session, tag: &str) -> bool {
    if s.tls {
        return false;
    }
    s.no(
        tag,
        Some("PRIVACYREQUIRED"),
        "Sign-in needs TLS: use STARTTLS or port 993",
    );
    true
}

pub(super) async fn login(s: &mut Session, tag: &str, user: &str, password: &str) {
    if refuse_plaintext(s, tag) {
        return;
    }
    verify(s, tag, user, password).await;
}

pub(super) async fn authenticate(
    s: &mut Session,
    tag: &str,
    mechanism: &str,
    initial: Option<&str>,
) -> After {
    let done = After::Next(Next::Continue);
    if refuse_plaintext(s, tag) {
        return done;
    }
    let offered = [Mechanism::Plain, Mechanism::OAuthBearer, Mechanism::XOAuth2];
    let Some(mech) = Mechanism::parse(mechanism).filter(|m| offered.contains(m)) else {
        s.no(tag, Some("CANNOT"), "Unsupported authentication mechanism");
        return done;
    };
    let (exchange, step) = Exchange::start(mech, initial);
    s.sasl = Some(exchange);
    match next_step(s, tag, step).await {
        true => After::Sasl,
        false => done,
    }
}

/// A client's line in the exchange; whether the exchange goes on.
pub(crate) async fn sasl_line(s: &mut Session, tag: &str, line: &str) -> bool {
    let step = match s.sasl.as_mut() {
        Some(_) if line == "*" => Step::Failed(SaslError::Cancelled),
        Some(x) => x.feed(line),
        None => return false,
    };
    next_step(s, tag, step).await
}

async fn next_step(s: &mut Session, tag: &str, step: Step) -> bool {
    match step {
        Step::Challenge(c) => {
            s.out.extend_from_slice(format!("+ {c}\r\n").as_bytes());
            true
        }
        Step::Failed(SaslError::Cancelled) => {
            s.sasl = None;
            s.bad(tag, "Authentication cancelled");
            false
        }
        Step::Failed(SaslError::TokenRefused) => {
            s.sasl = None;
            s.no(
                tag,
                Some("AUTHENTICATIONFAILED"),
                &Refusal::Invalid.mail_message(),
            );
            s.failed_sign_ins += 1;
            false
        }
        Step::Failed(e) => {
            s.sasl = None;
            s.bad(tag, &e.to_string());
            false
        }
        Step::Done(creds) => {
            let exchange = s.sasl.take();
            match (&creds, creds.login()) {
                (Credentials::Password { password, .. }, Ok(login)) => {
                    let (login, password) = (login.to_string(), password.to_string());
                    verify(s, tag, &login, &password).await;
                }
                (Credentials::Bearer { user, token }, _) => {
                    let (user, token) = (user.clone().unwrap_or_default(), token.clone());
                    let attempt = SignIn {
                        login: &user,
                        secret: "",
                        protocol: Protocol::Imap,
                        source: Some(s.peer.ip()),
                    };
                    let result = match s.svc.oidc.mail_token(&token, Some(s.peer.ip())).await {
                        Ok(v) => s.svc.directory.token_sign_in(&attempt, v.as_ref()).await,
                        Err(e) => Err(e.into()),
                    };
                    if let Some(mut exchange) = exchange.filter(|_| matches!(result, Ok(Err(_)))) {
                        // RFC 7628 §3.2.2: the failure goes as a challenge the client
                        // acknowledges; the command then ends with NO.
                        if let Step::Challenge(c) = exchange.refuse_token("invalid_token") {
                            s.sasl = Some(exchange);
                            s.out.extend_from_slice(format!("+ {c}\r\n").as_bytes());
                            return true;
                        }
                    }
                    signed_in(s, tag, result).await;
                }
                _ => s.no(tag, Some("AUTHENTICATIONFAILED"), "Invalid credentials"),
            }
            false
        }
    }
}

async fn verify(s: &mut Session, tag: &str, login: &str, password: &str) {
    let attempt = SignIn {
        login,
        secret: password,
        protocol: Protocol::Imap,
        source: Some(s.peer.ip()),
    };
    let result = s.svc.directory.sign_in(&attempt).await;
    signed_in(s, tag, result).await;
}

/// Opens the authenticated state after a sign-in, or answers its refusal.
async fn signed_in(
    s: &mut Session,
    tag: &str,
    result: Result<carepost_identity::SignInResult, carepost_identity::IdentityError>,
) {
    let signed_in = match result {
        Ok(Ok(x)) if x.complete => x,
        Ok(Ok(_)) => {
            s.no(
                tag,
                Some("AUTHENTICATIONFAILED"),
                &Refusal::Invalid.mail_message(),
            );
            s.failed_sign_ins += 1;
            return;
        }
        // One answer for every refusal (no `[EXPIRED]` either): see `Refusal::mail_message`.
        Ok(Err(r)) => {
            s.no(tag, Some("AUTHENTICATIONFAILED"), &r.mail_message());
            s.failed_sign_ins += 1;
            return;
        }
        Err(e) => {
            tracing::warn!(error = %e, "IMAP sign-in could not be checked");
            s.no(tag, Some("UNAVAILABLE"), "Temporary authentication failure");
            return;
        }
    };
    let Some(slot) = s.svc.accounts.enter(signed_in.account) else {
        s.no(
            tag,
            Some("LIMIT"),
            "Too many connections for this account; close some mail apps",
        );
        return;
    };
    // Make the standard mailboxes now, so the client's first LIST shows them.
    if let Err(e) = s.svc.mail.client_mailboxes(signed_in.account).await {
        tracing::warn!(error = %e, "IMAP: mailboxes unavailable at sign-in");
        s.no(tag, Some("UNAVAILABLE"), "Temporary failure, try again");
        return;
    }
    s.raise_limits();
    s.changes = Some(s.svc.mail.subscribe());
    s.state = State::Authenticated(Principal {
        account: signed_in.account,
        actor: Actor::Account {
            id: signed_in.account,
            address: signed_in.address.clone(),
        },
        _slot: slot,
        credential: signed_in.credential,
        password_stamp: signed_in.password_stamp,
        checked_at: s.svc.clock.now(),
    });
    let caps = s.capability_list();
    s.ok(tag, Some(&format!("CAPABILITY {caps}")), "Signed in");
}
