//! The Apple configuration profile (issue 19, point 1): the account page hands out a
//! `.mobileconfig` that Apple devices install to set up Mail, Calendar and Contacts. Read
//! here with python's own `plistlib` (an independent reader of Apple's format); the app
//! password inside it must really open IMAP and CalDAV, the profile must name this server,
//! and without the account's password nothing is made.

use crate::browser::Browser;
use crate::smtp::python;
use crate::support::server_with_nurse;
use carepost_testkit::TestDb;

const READ: &str = r#"
import base64, http.client, imaplib, plistlib, ssl, sys
path, imaps, https = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
p = plistlib.load(open(path, "rb"))
print("type", p["PayloadType"], p["PayloadVersion"])
kinds = sorted(x["PayloadType"] for x in p["PayloadContent"])
print("kinds", kinds)
print("unique", len(set(x["PayloadUUID"] for x in p["PayloadContent"]) | {p["PayloadUUID"]}) == 4)
mail = [x for x in p["PayloadContent"] if x["PayloadType"] == "com.apple.mail.managed"][0]
cal = [x for x in p["PayloadContent"] if x["PayloadType"] == "com.apple.caldav.account"][0]
user, secret = mail["IncomingMailServerUsername"], mail["IncomingPassword"]
print("mail", mail["EmailAddress"] == user, mail["IncomingMailServerUseSSL"], mail["OutgoingPasswordSameAsIncomingPassword"])
print("dav", cal["CalDAVUsername"] == user, cal["CalDAVPassword"] == secret, cal["CalDAVPrincipalURL"])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL("127.0.0.1", imaps, ssl_context=ctx)
print("imap", m.login(user, secret)[0])
c = http.client.HTTPSConnection("127.0.0.1", https, context=ctx)
auth = "Basic " + base64.b64encode((user + ":" + secret).encode()).decode()
c.request("PROPFIND", cal["CalDAVPrincipalURL"], headers={"Authorization": auth, "Depth": "0"})
print("caldav", c.getresponse().status)
"#;

#[tokio::test]
async fn the_profile_sets_up_mail_calendar_and_contacts_with_its_own_app_password() {
    let (s, nurse) = server_with_nurse(TestDb::sqlite()).await;
    let imaps = s.running.imaps.unwrap().port().to_string();
    let https = s.running.https.unwrap().port().to_string();
    let mut b = Browser::new(s);
    b.sign_in(&nurse).await;
    let page = b.get("/account").await;
    assert!(page.body.contains(r#"id="apple-profile""#), "{}", page.body);
    assert!(page.body.contains(r#"name="caldav""#), "{}", page.body);
    let wrong = b
        .post(
            "/account/apple-profile",
            &[("password", "not it"), ("device", "iPhone")],
        )
        .await;
    assert_eq!(wrong.header("location"), Some("/account?error=password"));
    let r = b
        .post(
            "/account/apple-profile",
            &[("password", crate::auth::GOOD), ("device", "Ann's iPhone")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.header("content-type"),
        Some("application/x-apple-aspen-config")
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("carepost.mobileconfig");
    std::fs::write(&file, &r.body).unwrap();
    let out = python(READ, &[file.to_str().unwrap(), &imaps, &https]).await;
    for want in [
        "type Configuration 1".to_string(),
        "kinds ['com.apple.caldav.account', 'com.apple.carddav.account', 'com.apple.mail.managed']"
            .to_string(),
        "unique True".to_string(),
        "mail True True True".to_string(),
        format!("dav True True /dav/principals/{nurse}/"),
        "imap OK".to_string(),
        "caldav 207".to_string(),
    ] {
        assert!(out.lines().any(|l| l == want), "{want:?} not in:\n{out}");
    }
    // The app password it holds is listed with the device's name, and revocable.
    let page = b.get("/account").await;
    assert!(
        page.body
            .contains("<td>Ann&#39;s iPhone (profile)</td><td>imap, smtp, caldav</td>"),
        "{}",
        page.body
    );
}
