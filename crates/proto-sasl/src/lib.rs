//! Sans-IO SASL for IMAP AUTHENTICATE (RFC 9051 section 6.2.2) and SMTP AUTH (RFC 4954):
//! the PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login) password mechanisms, and the
//! bearer-token mechanisms OAUTHBEARER (RFC 7628) and XOAUTH2 (Google's older form). Lines in,
//! challenges and credentials out; the caller verifies the credentials with the authentication
//! service (the servers offer the bearer mechanisms once carepost issues tokens, with the OIDC
//! provider).
//!
//! Both protocols carry SASL messages the same way: base64 lines, `*` to cancel, `=` for an
//! empty initial response (RFC 4954 section 4, RFC 9051 section 6.2.2), so that framing lives
//! here too. This crate performs no I/O and knows nothing of accounts.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::fmt;

/// Longest authorization identity, authentication identity or password (RFC 4616 section 2
/// allows 255 octets for each; a little more room for long addresses does no harm).
const MAX_FIELD: usize = 1024;
/// Longest bearer-token message: tokens are JWTs of a few KiB at most.
const MAX_TOKEN_MESSAGE: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    Login,
    OAuthBearer,
    XOAuth2,
}

impl Mechanism {
    /// The mechanism named by a client, case-insensitively (RFC 4422 section 3.1).
    pub fn parse(name: &str) -> Option<Mechanism> {
        match name.to_ascii_uppercase().as_str() {
            "PLAIN" => Some(Mechanism::Plain),
            "LOGIN" => Some(Mechanism::Login),
            "OAUTHBEARER" => Some(Mechanism::OAuthBearer),
            "XOAUTH2" => Some(Mechanism::XOAuth2),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::OAuthBearer => "OAUTHBEARER",
            Mechanism::XOAuth2 => "XOAUTH2",
        }
    }
}

/// What the client proved itself with.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credentials {
    Password {
        /// Who to act as; `None` means the same as `authcid`.
        authzid: Option<String>,
        authcid: String,
        password: String,
    },
    /// An OAuth 2.0 bearer token; the user, when the client names one, must match the token's.
    Bearer { user: Option<String>, token: String },
}

// The password or token never reaches a log through `{:?}`.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Password {
                authzid, authcid, ..
            } => f
                .debug_struct("Password")
                .field("authzid", authzid)
                .field("authcid", authcid)
                .field("password", &"<redacted>")
                .finish(),
            Credentials::Bearer { user, .. } => f
                .debug_struct("Bearer")
                .field("user", user)
                .field("token", &"<redacted>")
                .finish(),
        }
    }
}

impl Credentials {
    /// The identity to sign in as. Acting as someone else (an authorization identity other
    /// than the authentication one, RFC 4616 section 2) is not offered, and refused here.
    pub fn login(&self) -> Result<&str, SaslError> {
        match self {
            Credentials::Password {
                authzid, authcid, ..
            } => match authzid {
                Some(z) if !z.eq_ignore_ascii_case(authcid) => Err(SaslError::Authzid),
                _ => Ok(authcid),
            },
            // The token names the account; a client's user name is only checked against it.
            Credentials::Bearer { user, .. } => user
                .as_deref()
                .ok_or(SaslError::Malformed("OAUTHBEARER", "no user given")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    #[error("authentication cancelled")]
    Cancelled,
    #[error("the response is not valid base64")]
    Base64,
    #[error("malformed {0} response: {1}")]
    Malformed(&'static str, &'static str),
    #[error("the exchange is already finished")]
    Finished,
    #[error("signing in as another user is not allowed")]
    Authzid,
    /// The client acknowledged a bearer-token failure (RFC 7628 section 3.2.3).
    #[error("the token was refused")]
    TokenRefused,
}

/// The next thing to do in an exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send this challenge (already base64) and feed the client's next line.
    Challenge(String),
    /// The client has given its credentials.
    Done(Credentials),
    /// The exchange failed; answer with the protocol's error.
    Failed(SaslError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Before the PLAIN response; after one empty line, the second must carry it.
    AwaitPlain {
        empty_seen: bool,
    },
    AwaitUsername,
    AwaitPassword(String),
    AwaitBearer,
    /// A bearer token was refused and the error sent; the client's next line ends it.
    AwaitBearerAck,
    Finished,
}

/// One SASL exchange.
#[derive(Debug, Clone)]
pub struct Exchange {
    mechanism: Mechanism,
    state: State,
}

impl Exchange {
    /// Starts an exchange, with the initial response if the client sent one (SASL-IR).
    pub fn start(mechanism: Mechanism, initial: Option<&str>) -> (Exchange, Step) {
        let mut x = Exchange {
            mechanism,
            state: match mechanism {
                Mechanism::Plain => State::AwaitPlain { empty_seen: false },
                Mechanism::Login => State::AwaitUsername,
                Mechanism::OAuthBearer | Mechanism::XOAuth2 => State::AwaitBearer,
            },
        };
        let step = match initial {
            Some(line) => x.feed(line),
            None => x.challenge(),
        };
        (x, step)
    }

    fn challenge(&self) -> Step {
        let text: &[u8] = match self.state {
            State::AwaitUsername => b"Username:",
            State::AwaitPassword(_) => b"Password:",
            _ => b"",
        };
        Step::Challenge(STANDARD.encode(text))
    }

    /// Feeds one client line (base64, `=` for empty, `*` to cancel).
    pub fn feed(&mut self, line: &str) -> Step {
        let line = line.trim_end_matches(['\r', '\n']);
        if self.state == State::Finished {
            return Step::Failed(SaslError::Finished);
        }
        if line == "*" {
            self.state = State::Finished;
            return Step::Failed(SaslError::Cancelled);
        }
        let bytes = match line {
            "=" | "" => Vec::new(),
            b64 => match STANDARD.decode(b64) {
                Ok(b) => b,
                Err(_) => {
                    self.state = State::Finished;
                    return Step::Failed(SaslError::Base64);
                }
            },
        };
        let step = match std::mem::replace(&mut self.state, State::Finished) {
            State::AwaitPlain { empty_seen: false } if bytes.is_empty() => {
                // An empty initial response asks for the (empty) challenge first.
                self.state = State::AwaitPlain { empty_seen: true };
                return self.challenge();
            }
            State::AwaitPlain { .. } => parse_plain(&bytes),
            State::AwaitUsername => match field(&bytes, "LOGIN") {
                Ok(user) => {
                    self.state = State::AwaitPassword(user);
                    return self.challenge();
                }
                Err(e) => Err(e),
            },
            State::AwaitBearer => match self.mechanism {
                Mechanism::XOAuth2 => parse_xoauth2(&bytes),
                _ => parse_oauthbearer(&bytes),
            },
            State::AwaitBearerAck => Err(SaslError::TokenRefused),
            State::AwaitPassword(user) => {
                field(&bytes, "LOGIN").map(|password| Credentials::Password {
                    authzid: None,
                    authcid: user,
                    password,
                })
            }
            State::Finished => Err(SaslError::Finished),
        };
        match step {
            Ok(c) => Step::Done(c),
            Err(e) => Step::Failed(e),
        }
    }

    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// After the caller refused a bearer token: the error challenge to send (RFC 7628 section
    /// 3.2.2, and XOAUTH2 likewise). The client answers with one line, which ends the exchange
    /// with `TokenRefused`; the protocol then sends its failure reply.
    pub fn refuse_token(&mut self, status: &str) -> Step {
        self.state = State::AwaitBearerAck;
        let body = format!(r#"{{"status":"{}"}}"#, status.replace(['"', '\\'], ""));
        Step::Challenge(STANDARD.encode(body))
    }
}

/// Bearer mechanisms carry `key=value` pairs separated by 0x01 and end with two.
fn kvpairs<'a>(bytes: &'a [u8], mech: &'static str) -> Result<Vec<(&'a str, &'a str)>, SaslError> {
    if bytes.len() > MAX_TOKEN_MESSAGE {
        return Err(SaslError::Malformed(mech, "too long"));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| SaslError::Malformed(mech, "not UTF-8"))?;
    let body = text
        .strip_suffix("\x01\x01")
        .ok_or(SaslError::Malformed(mech, "must end with two ^A"))?;
    body.split('\x01')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            kv.split_once('=')
                .ok_or(SaslError::Malformed(mech, "expected key=value"))
        })
        .collect()
}

/// The token of an `auth` value, `Bearer <token>` (RFC 6750 section 2.1; the scheme is
/// case-insensitive).
fn bearer_token(auth: &str, mech: &'static str) -> Result<String, SaslError> {
    let (scheme, token) = auth.split_once(' ').ok_or(SaslError::Malformed(
        mech,
        "auth must be \"Bearer <token>\"",
    ))?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(SaslError::Malformed(
            mech,
            "auth must be \"Bearer <token>\"",
        ));
    }
    Ok(token.to_string())
}

/// RFC 7628 section 3.1: `gs2-header ^A *(key=value ^A) ^A`, where the GS2 header is
/// `n,a=<user>,` (channel binding is not supported: `p=` is refused) with `=2C` and `=3D`
/// escapes in the user (RFC 5801 section 4).
fn parse_oauthbearer(bytes: &[u8]) -> Result<Credentials, SaslError> {
    const M: &str = "OAUTHBEARER";
    let split = bytes
        .iter()
        .position(|b| *b == 1)
        .ok_or(SaslError::Malformed(M, "no GS2 header"))?;
    let (header, rest) = bytes.split_at(split);
    let header = std::str::from_utf8(header).map_err(|_| SaslError::Malformed(M, "not UTF-8"))?;
    let mut parts = header.split(',');
    let (Some(flag), Some(authzid), Some(""), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SaslError::Malformed(M, "GS2 header must be \"n,a=user,\""));
    };
    if flag != "n" && flag != "y" {
        return Err(SaslError::Malformed(M, "channel binding is not supported"));
    }
    let user = match authzid {
        "" => None,
        a => {
            let raw = a
                .strip_prefix("a=")
                .ok_or(SaslError::Malformed(M, "GS2 header must be \"n,a=user,\""))?;
            if raw.len() > MAX_FIELD {
                return Err(SaslError::Malformed(M, "user too long"));
            }
            Some(raw.replace("=2C", ",").replace("=3D", "="))
        }
    };
    let pairs = kvpairs(rest, M)?;
    let auth = pairs
        .iter()
        .find(|(k, _)| *k == "auth")
        .ok_or(SaslError::Malformed(M, "no auth value"))?;
    Ok(Credentials::Bearer {
        user,
        token: bearer_token(auth.1, M)?,
    })
}

/// XOAUTH2: `user=<user> ^A auth=Bearer <token> ^A ^A`.
fn parse_xoauth2(bytes: &[u8]) -> Result<Credentials, SaslError> {
    const M: &str = "XOAUTH2";
    let pairs = kvpairs(bytes, M)?;
    let get = |key: &str| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    let user = get("user").filter(|u| !u.is_empty() && u.len() <= MAX_FIELD);
    let auth = get("auth").ok_or(SaslError::Malformed(M, "no auth value"))?;
    Ok(Credentials::Bearer {
        user: Some(
            user.ok_or(SaslError::Malformed(M, "no user value"))?
                .to_string(),
        ),
        token: bearer_token(auth, M)?,
    })
}

fn field(bytes: &[u8], mech: &'static str) -> Result<String, SaslError> {
    if bytes.is_empty() || bytes.len() > MAX_FIELD {
        return Err(SaslError::Malformed(mech, "empty or too long"));
    }
    let s = std::str::from_utf8(bytes).map_err(|_| SaslError::Malformed(mech, "not UTF-8"))?;
    if s.contains('\0') {
        return Err(SaslError::Malformed(mech, "contains NUL"));
    }
    Ok(s.to_string())
}

/// RFC 4616 section 2: `[authzid] NUL authcid NUL passwd`.
fn parse_plain(bytes: &[u8]) -> Result<Credentials, SaslError> {
    let mut parts = bytes.split(|b| *b == 0);
    let (Some(authzid), Some(authcid), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SaslError::Malformed(
            "PLAIN",
            "expected authzid NUL authcid NUL password",
        ));
    };
    let authzid = match authzid {
        [] => None,
        z => Some(field(z, "PLAIN")?),
    };
    Ok(Credentials::Password {
        authzid,
        authcid: field(authcid, "PLAIN")?,
        password: field(password, "PLAIN")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &[u8]) -> String {
        STANDARD.encode(s)
    }

    fn pw(authzid: Option<&str>, authcid: &str, password: &str) -> Step {
        Step::Done(Credentials::Password {
            authzid: authzid.map(str::to_string),
            authcid: authcid.into(),
            password: password.into(),
        })
    }

    #[test]
    fn rfc4616_plain_with_and_without_authzid() {
        let (_, s) = Exchange::start(
            Mechanism::Plain,
            Some(&b64(b"\0ann@kaiser.org\0s3cret pass")),
        );
        assert_eq!(s, pw(None, "ann@kaiser.org", "s3cret pass"));
        let (_, s) = Exchange::start(
            Mechanism::Plain,
            Some(&b64(b"ann@kaiser.org\0ann@kaiser.org\0pw")),
        );
        assert_eq!(s, pw(Some("ann@kaiser.org"), "ann@kaiser.org", "pw"));
    }

    #[test]
    fn plain_without_initial_response_gets_an_empty_challenge() {
        let (mut x, s) = Exchange::start(Mechanism::Plain, None);
        assert_eq!(s, Step::Challenge(String::new()));
        assert_eq!(x.feed(&b64(b"\0u\0p")), pw(None, "u", "p"));
        assert_eq!(x.feed("x"), Step::Failed(SaslError::Finished));
        let (mut x, s) = Exchange::start(Mechanism::Plain, Some("="));
        assert_eq!(s, Step::Challenge(String::new()));
        assert_eq!(x.feed(&b64(b"\0u\0p")), pw(None, "u", "p"));
    }

    #[test]
    fn login_asks_for_username_then_password() {
        let (mut x, s) = Exchange::start(Mechanism::Login, None);
        assert_eq!(s, Step::Challenge(b64(b"Username:")));
        assert_eq!(
            x.feed(&b64(b"ann@kaiser.org")),
            Step::Challenge(b64(b"Password:"))
        );
        assert_eq!(x.feed(&b64(b"pw")), pw(None, "ann@kaiser.org", "pw"));
        // With the user name as initial response (RFC 4954 clients do this).
        let (mut x, s) = Exchange::start(Mechanism::Login, Some(&b64(b"ann")));
        assert_eq!(s, Step::Challenge(b64(b"Password:")));
        assert_eq!(x.feed(&b64(b"pw")), pw(None, "ann", "pw"));
    }

    #[test]
    fn bad_input_fails_cleanly() {
        for (mech, line, want) in [
            (Mechanism::Plain, "*", SaslError::Cancelled),
            (Mechanism::Plain, "!!notbase64", SaslError::Base64),
            (
                Mechanism::Plain,
                b64(b"only-one-part").leak() as &str,
                SaslError::Malformed("PLAIN", "expected authzid NUL authcid NUL password"),
            ),
            (
                Mechanism::Plain,
                b64(b"\0\0pw").leak(),
                SaslError::Malformed("PLAIN", "empty or too long"),
            ),
            (
                Mechanism::Plain,
                b64(b"\0u\0p\0extra").leak(),
                SaslError::Malformed("PLAIN", "expected authzid NUL authcid NUL password"),
            ),
            (
                Mechanism::Plain,
                b64(b"\0u\0\xff\xfe").leak(),
                SaslError::Malformed("PLAIN", "not UTF-8"),
            ),
            (
                Mechanism::Login,
                b64(&[b'a'; 2000]).leak(),
                SaslError::Malformed("LOGIN", "empty or too long"),
            ),
        ] {
            let (_, s) = Exchange::start(mech, Some(line));
            assert_eq!(s, Step::Failed(want), "{line}");
        }
    }

    #[test]
    fn acting_as_someone_else_is_refused() {
        let (_, s) = Exchange::start(
            Mechanism::Plain,
            Some(&b64(b"boss@kaiser.org\0ann@kaiser.org\0pw")),
        );
        let Step::Done(c) = s else { panic!("{s:?}") };
        assert_eq!(c.login(), Err(SaslError::Authzid));
        let (_, s) = Exchange::start(
            Mechanism::Plain,
            Some(&b64(b"Ann@kaiser.org\0ann@kaiser.org\0pw")),
        );
        let Step::Done(c) = s else { panic!("{s:?}") };
        assert_eq!(c.login(), Ok("ann@kaiser.org"));
    }

    #[test]
    fn empty_responses_do_not_loop() {
        let (mut x, _) = Exchange::start(Mechanism::Plain, Some("="));
        assert!(matches!(
            x.feed("="),
            Step::Failed(SaslError::Malformed(..))
        ));
    }

    fn bearer(user: Option<&str>, token: &str) -> Step {
        Step::Done(Credentials::Bearer {
            user: user.map(str::to_string),
            token: token.into(),
        })
    }

    #[test]
    fn rfc7628_oauthbearer_initial_responses() {
        // RFC 7628 section 4.1, with and without host and port.
        let msg = b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01";
        let (_, s) = Exchange::start(Mechanism::OAuthBearer, Some(&b64(msg)));
        assert_eq!(
            s,
            bearer(
                Some("user@example.com"),
                "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="
            )
        );
        let (_, s) = Exchange::start(
            Mechanism::OAuthBearer,
            Some(&b64(b"n,,\x01auth=bearer t0k\x01\x01")),
        );
        assert_eq!(s, bearer(None, "t0k"));
        let (_, s) = Exchange::start(
            Mechanism::OAuthBearer,
            Some(&b64(b"n,a=a=3Db=2Cc,\x01auth=Bearer t\x01\x01")),
        );
        assert_eq!(s, bearer(Some("a=b,c"), "t"));
        let Step::Done(c) = s else { unreachable!() };
        assert!(!format!("{c:?}").contains("\"t\""), "{c:?}");
    }

    #[test]
    fn xoauth2_initial_response() {
        let msg = b"user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01";
        let (_, s) = Exchange::start(Mechanism::XOAuth2, Some(&b64(msg)));
        assert_eq!(
            s,
            bearer(
                Some("someuser@example.com"),
                "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"
            )
        );
    }

    #[test]
    fn a_refused_token_gets_the_error_challenge_then_fails() {
        let (mut x, s) = Exchange::start(
            Mechanism::OAuthBearer,
            Some(&b64(b"n,,\x01auth=Bearer expired\x01\x01")),
        );
        assert!(matches!(s, Step::Done(_)));
        let Step::Challenge(c) = x.refuse_token("invalid_token") else {
            panic!()
        };
        assert_eq!(
            STANDARD.decode(c).unwrap(),
            br#"{"status":"invalid_token"}"#
        );
        assert_eq!(x.feed(&b64(b"\x01")), Step::Failed(SaslError::TokenRefused));
    }

    #[test]
    fn malformed_bearer_messages_fail_cleanly() {
        for (mech, msg) in [
            (
                Mechanism::OAuthBearer,
                &b"p=tls-unique,,\x01auth=Bearer t\x01\x01"[..],
            ),
            (Mechanism::OAuthBearer, b"n,,\x01auth=Bearer t\x01"),
            (Mechanism::OAuthBearer, b"n,,\x01auth=Basic dTpw\x01\x01"),
            (Mechanism::OAuthBearer, b"n,,\x01host=x\x01\x01"),
            (Mechanism::OAuthBearer, b"no header at all"),
            (Mechanism::OAuthBearer, b"n,,\x01auth=Bearer \x01\x01"),
            (Mechanism::XOAuth2, b"auth=Bearer t\x01\x01"),
            (Mechanism::XOAuth2, b"user=u\x01auth\x01\x01"),
        ] {
            let (_, s) = Exchange::start(mech, Some(&b64(msg)));
            assert!(
                matches!(s, Step::Failed(SaslError::Malformed(..))),
                "{mech:?} {:?}: {s:?}",
                String::from_utf8_lossy(msg)
            );
        }
        let long = [b'a'; MAX_TOKEN_MESSAGE + 1];
        let (_, s) = Exchange::start(Mechanism::XOAuth2, Some(&b64(&long)));
        assert!(matches!(s, Step::Failed(SaslError::Malformed(..))));
    }

    #[test]
    fn mechanism_names_are_case_insensitive() {
        assert_eq!(Mechanism::parse("plain"), Some(Mechanism::Plain));
        assert_eq!(Mechanism::parse("LOGIN"), Some(Mechanism::Login));
        assert_eq!(Mechanism::parse("xoauth2"), Some(Mechanism::XOAuth2));
        assert_eq!(
            Mechanism::parse("OAuthBearer"),
            Some(Mechanism::OAuthBearer)
        );
        assert_eq!(Mechanism::parse("CRAM-MD5"), None);
    }

    #[test]
    fn passwords_stay_out_of_debug_output() {
        let (_, s) = Exchange::start(Mechanism::Plain, Some(&b64(b"\0u\0hunter2")));
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
