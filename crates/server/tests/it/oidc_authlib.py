"""An independent relying party: authlib (with requests) signs a person in to carepost through
its real portal pages (password, then the authenticator's code), validates the ID token
against the JWKS, calls userinfo, refreshes (and sees a reused refresh token refused),
revokes, and logs out; then a mail app (carepost's built-in public client, PKCE, loopback
redirect) gets a token with the `mail` scope and signs in to IMAP and SMTP with XOAUTH2 and
OAUTHBEARER.

Arguments: port cert client_id client_secret login password totp_secret server_unix_time
imaps_port submissions_port. Prints one line per check; exits non-zero on the first failure.
"""
import base64, hashlib, hmac, html, imaplib, re, smtplib, ssl, struct, sys, warnings
from urllib.parse import urlencode, urlparse, parse_qs

import requests

warnings.filterwarnings("ignore", module="authlib")
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.common.security import generate_token

(port, cert, client_id, client_secret, login, password, totp_secret, server_now,
 imaps_port, submissions_port) = sys.argv[1:11]
server_now = int(server_now)
ISSUER = "https://localhost"
BASE = f"https://localhost:{port}"
CALLBACK = "https://ehr.kaiser.org/callback"
BYE = "https://ehr.kaiser.org/signed-out"


def local(url):
    """The issuer names https://localhost; the test server listens on another port."""
    if url == ISSUER or url.startswith(ISSUER + "/"):
        return BASE + url[len(ISSUER):]
    return url


class Session(OAuth2Session):
    trust_env = False

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("verify", cert)
        return super().request(method, local(url), *args, **kwargs)


def check(cond, what):
    if not cond:
        print("FAILED:", what)
        sys.exit(1)
    print("ok", what)


def totp(secret, unix):
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", unix // 30), hashlib.sha1).digest()
    o = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 1000000)


browser = requests.Session()
browser.verify = cert
# An environment CA bundle would override the session's own (a requests quirk).
browser.trust_env = False


def go(url, **kw):
    return browser.get(local(url), allow_redirects=False, **kw)


def csrf():
    return browser.cookies.get("__Host-carepost-csrf")


def confirmed(r):
    """A public client's request is confirmed by the person on the consent page."""
    if r.status_code == 200 and 'action="/oauth2/authorize/consent"' in r.text:
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', r.text))
        fields = {k: html.unescape(v) for k, v in fields.items()}
        fields["decision"] = "allow"
        r = browser.post(BASE + "/oauth2/authorize/consent", data=fields, allow_redirects=False)
    return r.headers["location"]


def portal_sign_in(authorize_url, with_totp):
    """Follows the authorization URL through the portal; returns the client's redirect."""
    r = go(authorize_url)
    if r.status_code == 200:
        return confirmed(r)  # signed in already, and the app asks to be confirmed
    to = r.headers["location"]
    if not to.startswith("/sign-in"):
        return to  # signed in already: single sign-on
    go(BASE + to)
    nxt = parse_qs(urlparse(to).query)["next"][0]
    r = browser.post(BASE + "/sign-in", data={"csrf": csrf(), "login": login,
                                              "password": password, "next": nxt},
                     allow_redirects=False)
    to = r.headers["location"]
    if with_totp:
        check(to.startswith("/sign-in/verify"), "the portal asks for the second step")
        go(BASE + to)
        r = browser.post(BASE + "/sign-in/verify",
                         data={"csrf": csrf(), "code": totp(totp_secret, server_now), "next": nxt},
                         allow_redirects=False)
        to = r.headers["location"]
    check(to == nxt, "the portal goes back to the authorization request")
    return confirmed(go(BASE + to))


meta = requests.get(BASE + "/.well-known/openid-configuration", verify=cert).json()
check(meta["issuer"] == ISSUER, "discovery names the issuer")
check("S256" in meta["code_challenge_methods_supported"], "discovery offers PKCE S256")
jwks = JsonWebKey.import_key_set(requests.get(local(meta["jwks_uri"]), verify=cert).json())

# An application with a secret: the code flow with PKCE and a nonce.
rp = Session(client_id, client_secret, scope="openid email profile offline_access",
             redirect_uri=CALLBACK, code_challenge_method="S256")
verifier = generate_token(48)
nonce = generate_token(16)
url, state = rp.create_authorization_url(meta["authorization_endpoint"], nonce=nonce,
                                         code_verifier=verifier)
back = portal_sign_in(url, with_totp=True)
check(back.startswith(CALLBACK), "back at the application with a code")
token = rp.fetch_token(meta["token_endpoint"], authorization_response=back,
                       code_verifier=verifier)
claims = jwt.decode(token["id_token"], jwks, claims_options={
    "iss": {"essential": True, "value": ISSUER},
    "aud": {"essential": True, "value": client_id},
    "nonce": {"essential": True, "value": nonce},
})
claims.validate(now=server_now, leeway=5)
check(claims["email"] == login, "the ID token names the person")
check("mfa" in claims["amr"] and "otp" in claims["amr"], "amr says an authenticator was used")
check(claims["sub"] != login, "sub is opaque")
info = rp.get(meta["userinfo_endpoint"]).json()
check(info["sub"] == claims["sub"] and info["email"] == login, "userinfo agrees")

old = token["refresh_token"]
new = rp.refresh_token(meta["token_endpoint"], refresh_token=old)
check(new["refresh_token"] != old, "refresh rotates the refresh token")
r = requests.post(local(meta["token_endpoint"]), verify=cert, auth=(client_id, client_secret),
                  data={"grant_type": "refresh_token", "refresh_token": old})
check(r.status_code == 400 and r.json()["error"] == "invalid_grant", "a reused refresh token is refused")
r = requests.post(local(meta["token_endpoint"]), verify=cert, auth=(client_id, client_secret),
                  data={"grant_type": "refresh_token", "refresh_token": new["refresh_token"]})
check(r.status_code == 400, "and its whole family with it")

# A fresh grant, revoked by the application.
url, state = rp.create_authorization_url(meta["authorization_endpoint"], nonce=nonce,
                                         code_verifier=verifier)
back = portal_sign_in(url, with_totp=True)
token = rp.fetch_token(meta["token_endpoint"], authorization_response=back, code_verifier=verifier)
rp.revoke_token(meta["revocation_endpoint"], token=token["refresh_token"],
                token_type_hint="refresh_token")
r = requests.get(local(meta["userinfo_endpoint"]), verify=cert,
                 headers={"Authorization": "Bearer " + token["access_token"]})
check(r.status_code == 401, "revocation stops the access token too")

# A mail app: the built-in public client, PKCE, a loopback redirect on any port.
mail_app = Session("carepost-mail", None, scope="openid email offline_access mail",
                   redirect_uri="http://127.0.0.1:53682/", code_challenge_method="S256",
                   token_endpoint_auth_method="none")
mv = generate_token(48)
url, state = mail_app.create_authorization_url(meta["authorization_endpoint"], code_verifier=mv)
r = go(url)
check(r.status_code == 200 and "Mail apps" in r.text and "read and send mail" in r.text,
      "the person confirms the mail app, told what it may do")
back = confirmed(r)
check(back.startswith("http://127.0.0.1:53682/?code="), "the mail app gets its code")
mail = mail_app.fetch_token(meta["token_endpoint"], authorization_response=back, code_verifier=mv)
access = mail["access_token"]
check("mail" in mail["scope"].split(), "the token may open mail")

ctx = ssl.create_default_context(cafile=cert)
ctx.check_hostname = False


def xoauth2(user, tok):
    return f"user={user}\x01auth=Bearer {tok}\x01\x01"


def oauthbearer(user, tok):
    return f"n,a={user},\x01host=localhost\x01port={imaps_port}\x01auth=Bearer {tok}\x01\x01"


for name, make in (("XOAUTH2", xoauth2), ("OAUTHBEARER", oauthbearer)):
    imap = imaplib.IMAP4_SSL("127.0.0.1", int(imaps_port), ssl_context=ctx)
    check("AUTH=" + name in imap.capabilities, f"IMAP offers {name}")
    typ, _ = imap.authenticate(name, lambda _: make(login, access).encode())
    check(typ == "OK", f"IMAP {name} sign-in")
    typ, data = imap.select("INBOX")
    check(typ == "OK", f"IMAP {name} session opens the inbox")
    imap.logout()

imap = imaplib.IMAP4_SSL("127.0.0.1", int(imaps_port), ssl_context=ctx)
try:
    imap.authenticate("XOAUTH2", lambda _: xoauth2(login, token["access_token"]).encode())
    check(False, "a token without the mail scope is refused")
except imaplib.IMAP4.error:
    check(True, "a token without the mail scope is refused")
imap.logout()

smtp = smtplib.SMTP_SSL("127.0.0.1", int(submissions_port), context=ctx)
smtp.ehlo("laptop")
check("XOAUTH2" in smtp.esmtp_features.get("auth", ""), "SMTP offers XOAUTH2")
code, _ = smtp.auth("XOAUTH2", lambda challenge=None: xoauth2(login, access))
check(code == 235, "SMTP XOAUTH2 sign-in")
smtp.sendmail(login, [login], f"From: {login}\r\nTo: {login}\r\nSubject: oauth\r\n\r\nsent with a token\r\n")
smtp.quit()
smtp = smtplib.SMTP_SSL("127.0.0.1", int(submissions_port), context=ctx)
smtp.ehlo("laptop")
try:
    smtp.auth("OAUTHBEARER", lambda challenge=None: "" if challenge else oauthbearer(login, "forged"))
    check(False, "a forged token is refused at SMTP")
except smtplib.SMTPAuthenticationError as e:
    check(e.smtp_code == 535, "a forged token is refused at SMTP")
smtp.close()

# Logout with the ID token as hint: back to the application's registered address.
r = go(meta["end_session_endpoint"] + "?" + urlencode({
    "id_token_hint": token["id_token"], "post_logout_redirect_uri": BYE, "state": "s1"}))
check(r.status_code == 303 and r.headers["location"] == BYE + "?state=s1", "logout goes back")
check(go(BASE + "/account").headers.get("location") == "/sign-in", "the portal session ended")
print("all checks passed")
