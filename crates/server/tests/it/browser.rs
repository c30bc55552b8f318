//! A browser without script for tests of the portal and of single sign-on: a cookie jar that
//! sends every cookie (as a browser does on same-site requests) and forms with the CSRF token.

use crate::auth::GOOD;
use carepost_testkit::{HttpResponse, TestServer, https_request};

/// A browser without script: a cookie jar and forms.
pub(crate) struct Browser {
    pub s: TestServer,
    pub cookies: Vec<String>,
}

impl Browser {
    pub(crate) fn new(s: TestServer) -> Browser {
        Browser {
            s,
            cookies: Vec::new(),
        }
    }

    pub(crate) async fn send(
        &mut self,
        method: &str,
        path: &str,
        form: Option<&str>,
    ) -> HttpResponse {
        let cookie = self.cookies.join("; ");
        let mut headers = vec![("User-Agent", "form-browser")];
        if !cookie.is_empty() {
            headers.push(("Cookie", &cookie));
        }
        if form.is_some() {
            headers.push(("Content-Type", "application/x-www-form-urlencoded"));
        }
        let addr = self.s.running.https.unwrap();
        let r = https_request(addr, &self.s.cert, method, path, &headers, form).await;
        for (k, v) in &r.headers {
            if k != "set-cookie" {
                continue;
            }
            let pair = v.split(';').next().unwrap().to_string();
            let name = pair.split('=').next().unwrap().to_string();
            self.cookies.retain(|c| !c.starts_with(&format!("{name}=")));
            if !pair.ends_with('=') {
                self.cookies.push(pair);
            }
        }
        r
    }

    pub(crate) async fn get(&mut self, path: &str) -> HttpResponse {
        self.send("GET", path, None).await
    }

    pub(crate) fn csrf(&self) -> String {
        self.cookies
            .iter()
            .find_map(|c| c.strip_prefix("__Host-carepost-csrf="))
            .expect("a page set the CSRF cookie")
            .to_string()
    }

    /// Opens the sign-in page (for the CSRF cookie) and signs in with `auth::GOOD`; a role
    /// holder that `support::grant_open_role` enrolled answers the second step too.
    pub(crate) async fn sign_in(&mut self, login: &str) -> HttpResponse {
        self.get("/sign-in").await;
        let r = self
            .post("/sign-in", &[("login", login), ("password", GOOD)])
            .await;
        let secret = crate::support::factor_of(&self.s, login);
        match (r.header("location"), secret) {
            (Some("/sign-in/verify"), Some(secret)) => {
                let code = crate::support::next_code(&self.s, &secret);
                self.post("/sign-in/verify", &[("code", &code)]).await
            }
            _ => r,
        }
    }

    /// Posts a form with this browser's CSRF token added.
    pub(crate) async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> HttpResponse {
        let mut body = format!("csrf={}", self.csrf());
        for (k, v) in fields {
            body.push_str(&format!("&{k}={}", urlencode(v)));
        }
        self.send("POST", path, Some(&body)).await
    }
}

pub(crate) fn urlencode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
