//! SMTP AUTH (RFC 4954) on submission: the SASL exchange of `carepost_proto_sasl`, verified by
//! the one authentication service (lockout, app passwords for accounts with a second factor,
//! audit). Failures answer 535 5.7.8 with the service's words, which never tell an unknown
//! account from a wrong password.

use crate::conn::{Conn, Next, Principal};
use carepost_identity::Refusal;
use carepost_identity::{Protocol, SignIn};
use carepost_proto_sasl::{Credentials, Exchange, Mechanism, SaslError, Step};
use carepost_proto_smtp::{AUTH_LOGIN, AUTH_OAUTHBEARER, AUTH_PLAIN, AUTH_XOAUTH2, Reply};

impl Conn {
    pub(crate) async fn auth_start(&mut self, mechanism: u64, initial: &str) {
        let mech = match mechanism {
            AUTH_PLAIN => Mechanism::Plain,
            AUTH_LOGIN => Mechanism::Login,
            AUTH_OAUTHBEARER => Mechanism::OAuthBearer,
            AUTH_XOAUTH2 => Mechanism::XOAuth2,
            _ => {
                self.reply(Reply::new(
                    504,
                    (5, 5, 4),
                    "Unrecognized authentication type",
                ));
                return;
            }
        };
        let initial = (!initial.is_empty()).then_some(initial);
        let (exchange, step) = Exchange::start(mech, initial);
        self.sasl = Some(exchange);
        self.sasl_next(step).await;
    }

    pub(crate) async fn sasl_step(&mut self, line: &str) -> Next {
        let step = match self.sasl.as_mut() {
            Some(x) => x.feed(line),
            None => return Next::Continue,
        };
        self.sasl_next(step).await;
        Next::Continue
    }

    async fn sasl_next(&mut self, step: Step) {
        match step {
            Step::Challenge(c) => self
                .out
                .extend_from_slice(format!("334 {c}\r\n").as_bytes()),
            Step::Failed(e) => {
                self.sasl = None;
                let r = match e {
                    SaslError::Cancelled => Reply::new(501, (5, 0, 0), "Authentication cancelled"),
                    SaslError::TokenRefused => Reply::new(535, (5, 7, 8), "Invalid credentials"),
                    other => Reply::new(501, (5, 5, 2), other.to_string()),
                };
                self.reply(r);
            }
            Step::Done(creds) => {
                let exchange = self.sasl.take();
                self.verify(creds, exchange).await;
            }
        }
    }

    /// A bearer token: checked by the provider, signed in by the directory. A refused token
    /// is told as a challenge the client acknowledges (RFC 7628 §3.2.2), then 535.
    async fn verify_token(
        &mut self,
        user: Option<String>,
        token: &str,
        exchange: Option<Exchange>,
    ) {
        let user = user.unwrap_or_default();
        let attempt = SignIn {
            login: &user,
            secret: "",
            protocol: Protocol::Smtp,
            source: Some(self.peer.ip()),
        };
        let result = match self.svc.oidc.mail_token(token, Some(self.peer.ip())).await {
            Ok(v) => self.svc.directory.token_sign_in(&attempt, v.as_ref()).await,
            Err(e) => Err(e.into()),
        };
        if let (Ok(Err(_)), Some(mut exchange)) = (&result, exchange)
            && let Step::Challenge(c) = exchange.refuse_token("invalid_token")
        {
            self.sasl = Some(exchange);
            self.out
                .extend_from_slice(format!("334 {c}\r\n").as_bytes());
            return;
        }
        self.signed_in(result).await;
    }

    async fn verify(&mut self, creds: Credentials, exchange: Option<Exchange>) {
        let password = match &creds {
            Credentials::Password { password, .. } => password.clone(),
            Credentials::Bearer { user, token } => {
                let (user, token) = (user.clone(), token.clone());
                return self.verify_token(user, &token, exchange).await;
            }
            _ => {
                self.reply(Reply::new(
                    504,
                    (5, 5, 4),
                    "Unrecognized authentication type",
                ));
                return;
            }
        };
        let login = match creds.login() {
            Ok(l) => l.to_string(),
            Err(e) => {
                self.reply(Reply::new(535, (5, 7, 8), e.to_string()));
                return;
            }
        };
        let attempt = SignIn {
            login: &login,
            secret: &password,
            protocol: Protocol::Smtp,
            source: Some(self.peer.ip()),
        };
        let result = self.svc.directory.sign_in(&attempt).await;
        self.signed_in(result).await;
    }

    async fn signed_in(
        &mut self,
        result: Result<carepost_identity::SignInResult, carepost_identity::IdentityError>,
    ) {
        let signed_in = match result {
            Ok(Ok(s)) if s.complete => s,
            Ok(Ok(_)) => {
                // A mail protocol never stops half-way; refuse rather than guess.
                self.reply(Reply::new(535, (5, 7, 8), Refusal::Invalid.mail_message()));
                return;
            }
            Ok(Err(refusal)) => {
                self.reply(Reply::new(535, (5, 7, 8), refusal.mail_message()));
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "SMTP AUTH could not be checked");
                self.reply(Reply::new(
                    454,
                    (4, 7, 0),
                    "Temporary authentication failure",
                ));
                return;
            }
        };
        let addresses = match self.svc.directory.own_account(signed_in.account).await {
            Ok(a) => std::iter::once(a.address)
                .chain(a.aliases)
                .map(|x| x.to_lowercase())
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "SMTP AUTH: account addresses unavailable");
                self.reply(Reply::new(
                    454,
                    (4, 7, 0),
                    "Temporary authentication failure",
                ));
                return;
            }
        };
        self.principal = Some(Principal {
            signed_in,
            addresses,
        });
        self.session.on_authenticated();
        self.reply(Reply::new(235, (2, 7, 0), "Authentication successful"));
    }
}

impl Conn {
    /// Whether the sign-in of a submission session still holds: asked at every MAIL FROM, so
    /// that a connection kept open cannot go on sending once the account is disabled, its
    /// password reset or expired, or the app password it used revoked. `None`: go on. When
    /// the sign-in no longer holds, the reply is 421 and the connection closes (signing in
    /// again gets the reason); when the directory cannot answer, this MAIL FROM gets 451.
    pub(crate) async fn sign_in_check(&mut self) -> Option<Next> {
        let p = self.principal.as_ref()?;
        let s = &p.signed_in;
        let check = self
            .svc
            .directory
            .credential_in_force(s.account, &s.credential, s.password_stamp)
            .await;
        match check {
            Ok(true) => None,
            Ok(false) => {
                self.reply(Reply::new(
                    421,
                    (4, 7, 0),
                    "Your account, password or app password has changed, or your password has expired; sign in again",
                ));
                Some(Next::Close)
            }
            Err(e) => {
                tracing::warn!(error = %e, "SMTP: account status unavailable");
                self.reply(Reply::new(
                    451,
                    (4, 3, 0),
                    "Your account cannot be checked now; try again later",
                ));
                Some(Next::Continue)
            }
        }
    }
}
