//! Who really sent a message from outside: SPF (RFC 7208), DKIM (RFC 6376), DMARC (RFC 7489)
//! and ARC (RFC 8617), verified with mail-auth, summed up in an `Authentication-Results`
//! header (RFC 8601) and a verdict the MX acts on: DMARC `reject` refuses, `quarantine` goes
//! to Junk, and mail that claims one of the organization's own domains must authenticate as
//! it or is refused.
//!
//! DNS answers are cached in memory (`DnsCache`, bounded, honouring each record's lifetime);
//! `preload_txt` puts records in that cache by hand, which is how the tests (and a site without
//! public DNS) give the verifier the records it needs.

use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::verify::DomainKey;
use mail_auth::dmarc::{Dmarc, Policy};
use mail_auth::spf::Spf;
use mail_auth::{
    AuthenticatedMessage, AuthenticationResults, DkimResult, DmarcResult, MX, MessageAuthenticator,
    Parameters, RecordSet, ResolverCache, Txt, dmarc::verify::DmarcParameters,
    spf::verify::SpfParameters,
};
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries per cache; past it the cache starts over (a crude bound, enough against growth).
const CACHE_ENTRIES: usize = 50_000;

/// A bounded in-memory DNS cache for mail-auth.
pub struct DnsCache<K, V>(Mutex<HashMap<K, (V, Instant)>>);

impl<K, V> std::fmt::Debug for DnsCache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DnsCache(..)")
    }
}

impl<K, V> Default for DnsCache<K, V> {
    fn default() -> Self {
        DnsCache(Mutex::new(HashMap::new()))
    }
}

impl<K: Hash + Eq, V: Clone> ResolverCache<K, V> for DnsCache<K, V> {
    // mail-auth gives record lifetimes as monotonic `Instant`s (the resolver's TTLs); they
    // are compared with the monotonic clock, not with the domain's `Clock`.
    #[allow(clippy::disallowed_methods)]
    fn get<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(name)
            .filter(|(_, until)| *until > Instant::now())
            .map(|(v, _)| v.clone())
    }

    fn remove<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(name).map(|(v, _)| v)
    }

    fn insert(&self, key: K, value: V, valid_until: Instant) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= CACHE_ENTRIES {
            map.clear();
        }
        map.insert(key, (value, valid_until));
    }
}

/// mail-auth's parameters with every cache of ours attached.
type CachedParams<'x, P> = Parameters<
    'x,
    P,
    DnsCache<Box<str>, Txt>,
    DnsCache<Box<str>, RecordSet<MX>>,
    DnsCache<Box<str>, RecordSet<Ipv4Addr>>,
    DnsCache<Box<str>, RecordSet<Ipv6Addr>>,
    DnsCache<IpAddr, RecordSet<Box<str>>>,
>;

#[derive(Default)]
struct Caches {
    txt: DnsCache<Box<str>, Txt>,
    mx: DnsCache<Box<str>, RecordSet<MX>>,
    ipv4: DnsCache<Box<str>, RecordSet<Ipv4Addr>>,
    ipv6: DnsCache<Box<str>, RecordSet<Ipv6Addr>>,
    ptr: DnsCache<IpAddr, RecordSet<Box<str>>>,
}

/// What the MX does with a message after verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    Accept,
    /// DMARC `quarantine` failed: deliver to Junk.
    Junk,
    /// Refuse with this text (DMARC `reject` failed, or an own domain did not authenticate).
    Reject(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The value of the `Authentication-Results` header to add.
    pub results: String,
    pub disposition: Disposition,
    /// DMARC passed: the From: domain is proven (what an answer to an invitation by mail
    /// needs before it may change a meeting).
    pub from_proven: bool,
}

/// The facts of one SMTP transaction that verification needs.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub ip: IpAddr,
    pub helo: &'a str,
    /// The envelope sender; empty for bounces.
    pub mail_from: &'a str,
    /// The From: address as `header_senders` reads it (strictly, as a mail client shows it).
    pub header_from: &'a str,
    /// The Sender: address, read the same way, if the message has one ("on behalf of").
    pub header_sender: Option<&'a str>,
}

/// Where mail for a domain goes, as DNS says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MxAnswer {
    /// These hosts, best first (the domain itself when it has no MX records).
    Hosts(Vec<String>),
    /// The domain does not exist (NXDOMAIN): no later try can work.
    NoSuchDomain,
    /// The domain publishes a null MX (RFC 7505): it accepts no mail.
    NullMx,
}

/// The record types `secure_lookup` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecureKind {
    Mx,
    Tlsa,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecureRecord {
    /// Preference and exchange.
    Mx(u16, String),
    Tlsa {
        usage: u8,
        selector: u8,
        matching: u8,
        data: Vec<u8>,
    },
}

/// An answer and whether the resolver vouched for it with DNSSEC (the AD bit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecureAnswer {
    pub authentic: bool,
    pub records: Vec<SecureRecord>,
}

pub struct SenderAuth {
    authenticator: MessageAuthenticator,
    /// The resolvers asked directly for DNSSEC-validated answers (`secure_lookup`).
    name_servers: Vec<std::net::SocketAddr>,
    /// Whether their AD bit is believed: when they are all on loopback, or the site says so.
    trusts_ad: bool,
    caches: Caches,
    hostname: String,
    own_domains: Vec<String>,
}

impl std::fmt::Debug for SenderAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SenderAuth")
            .field("hostname", &self.hostname)
            .finish_non_exhaustive()
    }
}

impl SenderAuth {
    /// A verifier using the system's DNS resolvers (`/etc/resolv.conf`).
    pub fn from_system(hostname: &str, own_domains: Vec<String>) -> Result<SenderAuth, String> {
        SenderAuth::new(hostname, own_domains, &[])
    }

    /// A verifier asking `servers` (`mail.dns_servers`), or the system's resolvers when there
    /// are none.
    pub fn new(
        hostname: &str,
        own_domains: Vec<String>,
        servers: &[std::net::SocketAddr],
    ) -> Result<SenderAuth, String> {
        use mail_auth::hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
        let (config, mut opts) = if servers.is_empty() {
            mail_auth::hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| format!("cannot read the system DNS configuration: {e}"))?
        } else {
            let named = servers
                .iter()
                .map(|a| {
                    let mut ns = NameServerConfig::udp(a.ip());
                    for c in &mut ns.connections {
                        c.port = a.port();
                    }
                    ns
                })
                .collect();
            (
                ResolverConfig::from_name_servers(named),
                ResolverOpts::default(),
            )
        };
        // A lost UDP answer costs `timeout`; ask again soon rather than stall a delivery.
        opts.timeout = Duration::from_secs(1);
        opts.attempts = 3;
        // Most senders publish no DMARC record, and many no SPF: remember those answers too,
        // also when the server gives no SOA to say for how long.
        opts.cache_size = 8192;
        opts.negative_min_ttl = Some(Duration::from_secs(300));
        let name_servers: Vec<std::net::SocketAddr> = config
            .name_servers
            .iter()
            .flat_map(|ns| ns.connections.iter().map(move |c| (ns.ip, c.port).into()))
            .collect::<std::collections::BTreeSet<std::net::SocketAddr>>()
            .into_iter()
            .collect();
        let authenticator = MessageAuthenticator::new(config, opts)
            .map_err(|e| format!("cannot start the DNS resolver: {e}"))?;
        let trusts_ad = !name_servers.is_empty()
            && name_servers
                .iter()
                .all(|a: &std::net::SocketAddr| a.ip().is_loopback());
        Ok(SenderAuth {
            authenticator,
            name_servers,
            trusts_ad,
            caches: Caches::default(),
            hostname: hostname.to_string(),
            own_domains: own_domains
                .iter()
                .map(|d| crate::normalize_domain(d))
                .collect(),
        })
    }

    /// Puts a TXT record in the cache for a day, as if DNS had answered it. `name` is the full
    /// record name (`example.org`, `sel._domainkey.example.org`, `_dmarc.example.org`).
    #[allow(clippy::disallowed_methods)] // A monotonic lifetime, as mail-auth's cache wants.
    pub fn preload_txt(&self, name: &str, record: &str) -> Result<(), String> {
        let bytes = record.as_bytes();
        let txt: Txt = if name.starts_with("_dmarc.") {
            Dmarc::parse(bytes).map_err(|e| e.to_string())?.into()
        } else if name.contains("._domainkey.") {
            DomainKey::parse(bytes).map_err(|e| e.to_string())?.into()
        } else {
            Spf::parse(bytes).map_err(|e| e.to_string())?.into()
        };
        let fqdn = format!("{}.", name.trim_end_matches('.').to_lowercase());
        let until = Instant::now() + Duration::from_secs(86_400);
        self.caches.txt.insert(fqdn.into_boxed_str(), txt, until);
        Ok(())
    }

    fn params<P>(&self, p: P) -> CachedParams<'_, P> {
        Parameters::new(p)
            .with_txt_cache(&self.caches.txt)
            .with_mx_cache(&self.caches.mx)
            .with_ipv4_cache(&self.caches.ipv4)
            .with_ipv6_cache(&self.caches.ipv6)
            .with_ptr_cache(&self.caches.ptr)
    }

    /// The hosts that take mail for `domain`, best first (RFC 5321 section 5.1: without MX
    /// records, the domain itself, reached through its A/AAAA records). For the outbound
    /// queue; shares the resolver and its cache. `Err` is a lookup that may work later.
    pub async fn mx_hosts(&self, domain: &str) -> Result<MxAnswer, String> {
        match self
            .authenticator
            .mx_lookup(domain, Some(&self.caches.mx))
            .await
        {
            Ok(set) => {
                let mut mxs: Vec<&MX> = set.rrset.iter().collect();
                mxs.sort_by_key(|m| m.preference);
                let exchanges: Vec<&str> = mxs
                    .iter()
                    .flat_map(|m| m.exchanges.iter())
                    .map(|h| h.as_ref())
                    .collect();
                // RFC 7505: a single MX whose exchange is the root says the domain takes no
                // mail at all.
                if exchanges.len() == 1 && exchanges[0].trim_end_matches('.').is_empty() {
                    return Ok(MxAnswer::NullMx);
                }
                let hosts: Vec<String> = exchanges
                    .iter()
                    .map(|h| h.trim_end_matches('.').to_string())
                    .filter(|h| !h.is_empty())
                    .collect();
                Ok(MxAnswer::Hosts(if hosts.is_empty() {
                    vec![domain.to_string()]
                } else {
                    hosts
                }))
            }
            Err(mail_auth::Error::Dns(mail_auth::DnsError::RecordNotFound(
                mail_auth::hickory_resolver::proto::op::ResponseCode::NXDomain,
            ))) => Ok(MxAnswer::NoSuchDomain),
            Err(mail_auth::Error::Dns(mail_auth::DnsError::RecordNotFound(_))) => {
                Ok(MxAnswer::Hosts(vec![domain.to_string()]))
            }
            Err(e) => Err(format!("MX lookup for {domain} failed: {e}")),
        }
    }

    /// Believes the resolvers' DNSSEC verdict although they are not on loopback
    /// (`mail.dnssec_resolver_trusted`).
    pub fn trust_resolver_dnssec(mut self, trusted: bool) -> SenderAuth {
        self.trusts_ad = self.trusts_ad || (trusted && !self.name_servers.is_empty());
        self
    }

    /// Whether a DNSSEC verdict from the resolvers counts (DANE can apply).
    pub fn dnssec_usable(&self) -> bool {
        self.trusts_ad
    }

    /// The addresses of a host, IPv4 first, from the same resolver.
    pub async fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        self.authenticator
            .ip_lookup(
                host,
                mail_auth::IpLookupStrategy::Ipv4thenIpv6,
                10,
                Some(&self.caches.ipv4),
                Some(&self.caches.ipv6),
            )
            .await
            .map_err(|e| format!("no address for {host}: {e}"))
    }

    /// The `id` of `domain`'s `_mta-sts` TXT record (RFC 8461 section 3.1), `None` when it has
    /// none; `Err` for a lookup that failed and may work later.
    pub async fn mta_sts_id(&self, domain: &str) -> Result<Option<String>, String> {
        let name = format!("_mta-sts.{domain}.");
        match self
            .authenticator
            .txt_lookup::<mail_auth::mta_sts::MtaSts>(name, Some(&self.caches.txt))
            .await
        {
            Ok(r) => Ok(Some(r.id.clone())),
            Err(mail_auth::Error::Dns(mail_auth::DnsError::RecordNotFound(_)))
            | Err(mail_auth::Error::Dns(mail_auth::DnsError::InvalidRecordType))
            | Err(mail_auth::Error::ParseError) => Ok(None),
            Err(e) => Err(format!("_mta-sts lookup for {domain} failed: {e}")),
        }
    }

    /// The `mailto:` addresses `domain`'s `_smtp._tls` record asks TLS reports to go to
    /// (RFC 8460 section 3); empty when it asks for none or the lookup fails.
    pub async fn tls_report_addresses(&self, domain: &str) -> Vec<String> {
        let name = format!("_smtp._tls.{domain}.");
        match self
            .authenticator
            .txt_lookup::<mail_auth::mta_sts::TlsRpt>(name, Some(&self.caches.txt))
            .await
        {
            // The record is the other domain's to write: each address must be a plain
            // addr-spec (mail-auth decodes quoted-printable, so CR, LF or `>` could arrive and
            // would otherwise reach RCPT TO), and a handful is enough.
            Ok(r) => r
                .rua
                .iter()
                .filter_map(|u| match u {
                    mail_auth::mta_sts::ReportUri::Mail(a) => Some(a.to_lowercase()),
                    mail_auth::mta_sts::ReportUri::Http(_) => None,
                })
                .filter(|a| crate::is_plain_address(a))
                .take(5)
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Asks the resolvers for `name`'s records of type `kind` with the DNSSEC OK bit, and says
    /// whether the answer came back authenticated (the AD bit). carepost does not validate
    /// signatures itself: like Postfix and Exim, it trusts the AD bit of the resolver it is
    /// configured with, which must therefore be a validating resolver on a trusted path (on
    /// the host itself, as unbound usually is). hickory's resolver neither sets the DO bit nor
    /// shows the AD bit without validating in-process, so this one question goes out through
    /// hickory's own client. `Ok(None)`: the name has no such records (NXDOMAIN or NODATA).
    pub async fn secure_lookup(
        &self,
        name: &str,
        kind: SecureKind,
    ) -> Result<Option<SecureAnswer>, String> {
        use futures_util::StreamExt;
        use mail_auth::hickory_resolver::net::DnsHandle;
        use mail_auth::hickory_resolver::net::runtime::TokioRuntimeProvider;
        use mail_auth::hickory_resolver::net::udp::UdpClientStream;
        use mail_auth::hickory_resolver::proto::op::{
            DnsRequest, DnsRequestOptions, Query, ResponseCode,
        };
        use mail_auth::hickory_resolver::proto::rr::{Name, RData, RecordType};
        let fqdn = Name::from_ascii(format!("{}.", name.trim_end_matches('.')))
            .map_err(|e| format!("'{name}' is not a DNS name: {e}"))?;
        let record_type = match kind {
            SecureKind::Mx => RecordType::MX,
            SecureKind::Tlsa => RecordType::TLSA,
        };
        let mut last = "no DNS server is configured".to_string();
        for server in &self.name_servers {
            let exchange = UdpClientStream::builder(*server, TokioRuntimeProvider::default())
                .with_timeout(Some(Duration::from_secs(2)))
                .exchange();
            let mut options = DnsRequestOptions::default();
            options.edns_set_dnssec_ok = true;
            let mut request =
                DnsRequest::from_query(Query::query(fqdn.clone(), record_type), options);
            // RFC 6840 section 5.7: AD in the question asks for AD in the answer.
            request.metadata.authentic_data = true;
            let answer = match exchange.send(request).next().await {
                Some(Ok(a)) => a,
                Some(Err(e)) => {
                    last = format!("{server}: {e}");
                    continue;
                }
                None => {
                    last = format!("{server}: no answer");
                    continue;
                }
            };
            match answer.metadata.response_code {
                ResponseCode::NoError => {}
                ResponseCode::NXDomain => return Ok(None),
                other => {
                    last = format!("{server} answered {other}");
                    continue;
                }
            }
            if answer.metadata.truncation {
                // Too large for UDP: an answer cut short must not read as "no records".
                last = format!("{server}: the answer was truncated");
                continue;
            }
            let authentic = answer.metadata.authentic_data && self.trusts_ad;
            let mut records = Vec::new();
            for r in &answer.answers {
                match &r.data {
                    RData::MX(mx) => records.push(SecureRecord::Mx(
                        mx.preference,
                        mx.exchange.to_ascii().trim_end_matches('.').to_lowercase(),
                    )),
                    RData::TLSA(t) => records.push(SecureRecord::Tlsa {
                        usage: t.cert_usage.into(),
                        selector: t.selector.into(),
                        matching: t.matching.into(),
                        data: t.cert_data.clone(),
                    }),
                    _ => {}
                }
            }
            if records.is_empty() {
                return Ok(None);
            }
            return Ok(Some(SecureAnswer { authentic, records }));
        }
        Err(last)
    }

    fn is_own(&self, domain: &str) -> bool {
        self.own_domains.contains(&crate::normalize_domain(domain))
    }

    /// Verifies a message that arrived at the MX.
    pub async fn verify(&self, raw: &[u8], origin: Origin<'_>) -> Verdict {
        let Some(msg) = AuthenticatedMessage::parse(raw) else {
            return Verdict {
                results: format!("{}; none", self.hostname),
                disposition: Disposition::Reject("The message cannot be parsed".into()),
                from_proven: false,
            };
        };
        let dkim = self.authenticator.verify_dkim(self.params(&msg)).await;
        let arc = self.authenticator.verify_arc(self.params(&msg)).await;
        let spf = self
            .authenticator
            .verify_spf(self.params(SpfParameters::verify_mail_from(
                origin.ip,
                origin.helo,
                &self.hostname,
                origin.mail_from,
            )))
            .await;
        let mail_from_domain = match origin.mail_from.rsplit_once('@') {
            Some((_, d)) => d,
            None => origin.helo,
        };
        let dmarc = self
            .authenticator
            .verify_dmarc(self.params(DmarcParameters::new(&msg, &dkim, mail_from_domain, &spf)))
            .await;
        let header_from = msg.from();
        let results = AuthenticationResults::new(&self.hostname)
            .with_dkim_results(&dkim, header_from)
            .with_spf_mailfrom_result(&spf, origin.ip, origin.mail_from, origin.helo)
            .with_arc_result(&arc, origin.ip)
            .with_dmarc_result(&dmarc)
            .to_string();
        let dmarc_pass =
            *dmarc.dkim_result() == DmarcResult::Pass || *dmarc.spf_result() == DmarcResult::Pass;
        let from_domain = header_from.rsplit_once('@').map_or("", |(_, d)| d);
        let shown_domain = origin.header_from.rsplit_once('@').map_or("", |(_, d)| d);
        // DMARC was evaluated on the domain mail-auth read; a reader that shows another one
        // (comments, spaces, folding read differently) would be shown an unchecked sender.
        if crate::normalize_domain(from_domain) != crate::normalize_domain(shown_domain) {
            return Verdict {
                results: format!("{}; dmarc=permerror (ambiguous From:)", self.hostname),
                disposition: Disposition::Reject(
                    "The From: header reads differently to different readers".into(),
                ),
                from_proven: false,
            };
        }
        let sender_domain = origin
            .header_sender
            .and_then(|a| a.rsplit_once('@'))
            .map_or("", |(_, d)| d);
        // A Sender: of ours ("administrator@kaiser.org on behalf of ...") claims as much as a
        // From: of ours.
        let claims_own =
            self.is_own(from_domain) || self.is_own(mail_from_domain) || self.is_own(sender_domain);
        // Only the organization's own signature proves a claim to its domain: an SPF pass may
        // come from a provider the domain shares with others.
        let own_authenticated = dkim.iter().any(|d| {
            *d.result() == DkimResult::Pass && d.signature().is_some_and(|s| self.is_own(&s.d))
        });
        let disposition = if claims_own && !own_authenticated {
            Disposition::Reject(
                "Mail from outside may not claim to be from this organization".into(),
            )
        } else if dmarc_pass {
            Disposition::Accept
        } else {
            match dmarc.policy() {
                Policy::Reject => Disposition::Reject(format!(
                    "Rejected by the DMARC policy of {}",
                    dmarc.domain()
                )),
                Policy::Quarantine => Disposition::Junk,
                _ => Disposition::Accept,
            }
        };
        Verdict {
            results,
            from_proven: dmarc_pass && disposition == Disposition::Accept,
            disposition,
        }
    }
}
