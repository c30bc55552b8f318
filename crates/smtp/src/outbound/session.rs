//! One SMTP session with one address of one host: greeting, EHLO, STARTTLS when offered (or
//! required), the chain judged by the host's requirement (`plan::Need`, `trust`), EHLO again,
//! REQUIRETLS checked, then the transaction. Every TLS outcome is tallied for TLS-RPT.

use super::plan::{Hop, HopError, Need};
use super::{SMTP_TIMEOUT, transact};
use crate::SmtpService;
use carepost_mail::{Attempt, DueDelivery};
use carepost_proto_smtp::dane::{DaneMatch, check_chain};
use mail_send::SmtpClient;
use mail_send::smtp::AssertReply;
use rustls::pki_types::CertificateDer;
use smtp_proto::{EXT_REQUIRE_TLS, EXT_START_TLS};
use std::net::{IpAddr, SocketAddr};

impl SmtpService {
    pub(crate) async fn send_to(
        &self,
        hop: &Hop,
        ip: IpAddr,
        d: &DueDelivery,
    ) -> Result<Vec<(String, Attempt)>, HopError> {
        let temporary = |e: mail_send::Error| HopError::Temporary(e.to_string());
        let helo = self.config.mail.hostname.as_str();
        let mut client = SmtpClient::connect(SocketAddr::new(ip, hop.port), SMTP_TIMEOUT)
            .await
            .map_err(temporary)?;
        client
            .read()
            .await
            .map_err(temporary)?
            .assert_positive_completion()
            .map_err(temporary)?;
        let ehlo = client.ehlo(helo).await.map_err(temporary)?;
        let shown_ip = ip.to_string();
        if !ehlo.has_capability(EXT_START_TLS) {
            if hop.need == Need::Opportunistic {
                return Ok(transact(client, d).await);
            }
            let detail = format!("{} does not offer STARTTLS", hop.host);
            self.report(
                &hop.policy_domain,
                hop.report.clone(),
                Some(("starttls-not-supported", detail.clone())),
                &hop.host,
                &shown_ip,
            )
            .await;
            // An MTA-STS policy in `testing` mode only reports.
            if !hop.need.enforced() {
                return Ok(transact(client, d).await);
            }
            return Err(HopError::Temporary(format!(
                "TLS is required for {} and {detail}",
                hop.policy_domain
            )));
        }
        let mut tls = match client.start_tls(self.trust.connector(), &hop.host).await {
            Ok(t) => t,
            Err(e) => {
                self.report(
                    &hop.policy_domain,
                    hop.report.clone(),
                    Some(("validation-failure", format!("TLS handshake: {e}"))),
                    &hop.host,
                    &shown_ip,
                )
                .await;
                return Err(temporary(e));
            }
        };
        let chain: Vec<CertificateDer<'static>> = tls
            .tls_connection()
            .peer_certificates()
            .map(|c| c.iter().map(|c| c.clone().into_owned()).collect())
            .unwrap_or_default();
        let judged = self.judge(&hop.need, &chain, &hop.host);
        self.report(
            &hop.policy_domain,
            hop.report.clone(),
            judged.clone().err(),
            &hop.host,
            &shown_ip,
        )
        .await;
        if let Err((_, why)) = judged
            && hop.need.enforced()
        {
            let _ = tls.quit().await;
            return Err(HopError::Temporary(format!(
                "the TLS certificate of {} does not pass the policy of {}: {why}",
                hop.host, hop.policy_domain
            )));
        }
        let ehlo = tls.ehlo(helo).await.map_err(temporary)?;
        if d.require_tls && !ehlo.has_capability(EXT_REQUIRE_TLS) {
            let _ = tls.quit().await;
            // RFC 8689 section 4.2.1: a next hop that cannot carry the requirement on is not
            // used; when no host of the domain can, the message comes back.
            return Err(HopError::NoRequireTls(format!(
                "550 5.7.30 REQUIRETLS: {} does not support REQUIRETLS",
                hop.host
            )));
        }
        Ok(transact(tls, d).await)
    }

    /// Whether `chain` meets `need` for `host`; `Err` names the RFC 8460 result type.
    fn judge(
        &self,
        need: &Need,
        chain: &[CertificateDer<'_>],
        host: &str,
    ) -> Result<(), (&'static str, String)> {
        match need {
            Need::Opportunistic | Need::Encrypted => Ok(()),
            Need::Verified | Need::Sts(_) => self.trust.check_pkix(chain, host),
            Need::DaneMissing => Err((
                "dane-required",
                format!("{host} has no DNSSEC-validated TLSA records"),
            )),
            Need::Dane(records) => {
                let ders: Vec<Vec<u8>> = chain.iter().map(|c| c.to_vec()).collect();
                match check_chain(records, &ders) {
                    Ok(DaneMatch::EndEntity) => Ok(()),
                    Ok(DaneMatch::TrustAnchor(i)) => self.trust.check_with_anchor(chain, i, host),
                    Err(e) => Err(("validation-failure", e)),
                }
            }
        }
    }
}
