//! TLS between the parties: TLS 1.3 (rustls with the `ring` provider), with client
//! authentication both ways.
//!
//! Identity is pinned, not looked up: every party has a key pair and a self-signed
//! certificate (`mpcvm keygen`, [`generate`]), and `parties.toml` lists each party's
//! certificate. A dialer announces which party it is in the plain preamble; from then
//! on each side accepts only the exact certificate (byte for byte) configured for the
//! party the other claims to be, and TLS checks that the peer holds that
//! certificate's key. No certificate authority, host name or validity period is
//! consulted, so a compromised CA or DNS cannot impersonate a party; replacing a key
//! means handing the new certificate to every party.
//!
//! After the handshake one connection is read by one thread and written by another
//! (see `tcp.rs`), so the rustls state machine sits behind a mutex that is held only
//! while bytes are encrypted or decrypted, never while the socket blocks.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, ClientConnection, Connection,
    DigitallySignedStruct, DistinguishedName, ServerConfig, ServerConnection, SignatureScheme,
};
use rustls_pki_types::pem::PemObject;

use super::config::PartiesConfig;

/// The name in the certificate of party `party` (subject common name and DNS SAN).
pub fn party_name(party: u32) -> String {
    format!("party{party}")
}

/// A new key pair and self-signed certificate for party `party`, as PEM text:
/// `(private key, certificate)`. The key is ECDSA P-256.
pub fn generate(party: u32) -> Result<(String, String), String> {
    let name = party_name(party);
    let key = rcgen::KeyPair::generate().map_err(|e| format!("cannot generate a key: {e}"))?;
    let mut params = rcgen::CertificateParams::new(vec![name.clone()])
        .map_err(|e| format!("cannot make a certificate: {e}"))?;
    let mut subject = rcgen::DistinguishedName::new();
    subject.push(rcgen::DnType::CommonName, name);
    subject.push(rcgen::DnType::OrganizationName, "mpcvm");
    params.distinguished_name = subject;
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("cannot sign the certificate: {e}"))?;
    Ok((key.serialize_pem(), cert.pem()))
}

/// What one party needs for TLS: its key, and every party's certificate.
pub struct Identity {
    party: u32,
    /// `certs[p]` is the certificate configured for party `p`.
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    provider: Arc<CryptoProvider>,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        f.debug_struct("Identity")
            .field("party", &self.party)
            .field("certs", &self.certs.len())
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Reads the certificates of `config` and the key of party `party` (its `key` entry,
    /// which the caller may have replaced by `--key`). `Ok(None)` when the config does
    /// not use TLS. The error names the file and the party, for a config error.
    pub fn load(config: &PartiesConfig, party: u32) -> Result<Option<Identity>, String> {
        if !config.tls {
            return Ok(None);
        }
        let mut certs = Vec::with_capacity(config.parties.len());
        for (p, entry) in config.parties.iter().enumerate() {
            let path = entry
                .cert
                .as_deref()
                .ok_or_else(|| format!("party {p} has no `cert`"))?;
            let cert = CertificateDer::from_pem_file(path).map_err(|e| {
                format!(
                    "party {p}: `cert` `{}`: {}",
                    path.display(),
                    pem_error(e, "certificate")
                )
            })?;
            certs.push(cert);
        }
        let Some(entry) = config.parties.get(party as usize) else {
            return Err(format!("party {party} is not in the config"));
        };
        let key_path = entry.key.as_deref().ok_or_else(|| {
            format!(
                "party {party} has no `key` in its `[[party]]` entry and no `--key FILE` was \
                 given: name the private key that `mpcvm keygen --party {party}` wrote"
            )
        })?;
        let key = read_key(key_path)?;
        let identity = Identity {
            party,
            certs,
            key,
            provider: Arc::new(rustls::crypto::ring::default_provider()),
        };
        // Building a config checks that the key belongs to this party's certificate.
        identity.server_config(party).map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => format!(
                "the key `{}` does not belong to party {party}'s certificate `{}`",
                key_path.display(),
                entry.cert.as_deref().unwrap_or(Path::new("")).display()
            ),
            e => format!(
                "party {party}: cannot use the key `{}`: {e}",
                key_path.display()
            ),
        })?;
        Ok(Some(identity))
    }

    /// An identity from certificates and a key already in memory (PEM), for tests and
    /// tools: `certs[p]` is party `p`'s certificate.
    pub fn from_pem(party: u32, certs: &[String], key: &str) -> Result<Identity, String> {
        let certs = certs
            .iter()
            .map(|pem| {
                CertificateDer::from_pem_slice(pem.as_bytes())
                    .map_err(|e| pem_error(e, "certificate"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|e| pem_error(e, "key"))?;
        Ok(Identity {
            party,
            certs,
            key,
            provider: Arc::new(rustls::crypto::ring::default_provider()),
        })
    }

    /// This party's id.
    pub fn party(&self) -> u32 {
        self.party
    }

    fn pinned(&self, peer: u32) -> Pinned {
        Pinned {
            cert: self.certs[peer as usize].clone(),
            algorithms: self.provider.signature_verification_algorithms,
        }
    }

    fn my_chain(&self) -> Vec<CertificateDer<'static>> {
        vec![self.certs[self.party as usize].clone()]
    }

    /// The configuration for dialing `peer`.
    fn client_config(&self, peer: u32) -> Result<Arc<ClientConfig>, rustls::Error> {
        let config = ClientConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(self.pinned(peer)))
            .with_client_auth_cert(self.my_chain(), self.key.clone_key())?;
        Ok(Arc::new(config))
    }

    /// The configuration for accepting a connection from a dialer claiming to be
    /// `claimed`.
    fn server_config(&self, claimed: u32) -> Result<Arc<ServerConfig>, rustls::Error> {
        let mut config = ServerConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_client_cert_verifier(Arc::new(self.pinned(claimed)))
            .with_single_cert(self.my_chain(), self.key.clone_key())?;
        // No session resumption: each run connects once.
        config.send_tls13_tickets = 0;
        Ok(Arc::new(config))
    }
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| {
        format!(
            "`key` `{}`: {}",
            path.display(),
            pem_error(e, "private key")
        )
    })
}

fn pem_error(e: rustls_pki_types::pem::Error, what: &str) -> String {
    match e {
        rustls_pki_types::pem::Error::Io(e) => format!("cannot read it: {e}"),
        rustls_pki_types::pem::Error::NoItemsFound => {
            format!("holds no PEM {what} (`mpcvm keygen` writes one)")
        }
        e => format!("not a PEM {what}: {e}"),
    }
}

/// Accepts exactly one certificate, and checks the handshake signatures against it.
#[derive(Debug)]
struct Pinned {
    cert: CertificateDer<'static>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl Pinned {
    fn check(&self, presented: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        if presented.as_ref() == self.cert.as_ref() {
            Ok(())
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // The signature is checked with the certificate the peer sent, which `check`
        // has compared with the pinned one by then.
        self.check(cert)?;
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.check(end_entity)
            .map(|()| ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // Only TLS 1.3 is offered.
        Err(rustls::PeerIncompatible::Tls12NotOffered.into())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

impl ClientCertVerifier for Pinned {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.check(end_entity)
            .map(|()| ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::PeerIncompatible::Tls12NotOffered.into())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Runs the TLS handshake on `socket`, as the dialer of party `peer` (`dialer`) or as
/// the acceptor of a dialer that claimed to be `peer`, within `wait`. The error is a
/// reason naming what went wrong, for a `VmError::Peer` about `peer`.
pub(crate) fn handshake(
    identity: &Identity,
    peer: u32,
    dialer: bool,
    socket: &mut TcpStream,
    wait: Duration,
) -> Result<Connection, String> {
    let setup = |e: rustls::Error| format!("cannot set up TLS: {e}");
    let mut conn: Connection = if dialer {
        let name = ServerName::try_from(party_name(peer)).map_err(|e| setup_name(e, peer))?;
        ClientConnection::new(identity.client_config(peer).map_err(setup)?, name)
            .map_err(setup)?
            .into()
    } else {
        ServerConnection::new(identity.server_config(peer).map_err(setup)?)
            .map_err(setup)?
            .into()
    };
    socket
        .set_read_timeout(Some(wait))
        .and_then(|()| socket.set_write_timeout(Some(wait)))
        .map_err(|e| format!("cannot configure the connection: {e}"))?;
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(socket) {
            return Err(handshake_error(peer, &e, wait));
        }
    }
    // In TLS 1.3 the client is done before the server has judged its certificate, so
    // the acceptor confirms: a dialer whose certificate is refused learns it here, from
    // the alert, rather than later as a closed connection.
    let confirmed = if dialer {
        read_confirmation(&mut conn, socket)
    } else {
        conn.writer()
            .write_all(&[ACCEPTED])
            .and_then(|()| conn.complete_io(socket).map(|_| ()))
    };
    confirmed.map_err(|e| handshake_error(peer, &e, wait))?;
    Ok(conn)
}

/// The byte an acceptor sends once it has accepted the dialer's certificate.
const ACCEPTED: u8 = 0xac;

fn read_confirmation(conn: &mut Connection, socket: &mut TcpStream) -> io::Result<()> {
    let mut byte = [0u8];
    loop {
        match conn.reader().read(&mut byte) {
            Ok(1) if byte[0] == ACCEPTED => return Ok(()),
            Ok(1) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "sent something else than the TLS confirmation",
                ))
            }
            Ok(_) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        if conn.read_tls(socket)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        conn.process_new_packets()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    }
}

fn setup_name(e: impl fmt::Display, peer: u32) -> String {
    format!("cannot name party {peer} for TLS: {e}")
}

/// The rustls error inside an I/O error, if there is one.
fn rustls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

fn handshake_error(peer: u32, e: &io::Error, wait: Duration) -> String {
    let text = match rustls_error(e) {
        Some(rustls::Error::InvalidCertificate(
            CertificateError::ApplicationVerificationFailure,
        )) => {
            return format!(
                "presented a certificate that is not the one configured for party {peer} \
                 in parties.toml"
            )
        }
        Some(
            rustls::Error::InvalidMessage(_)
            | rustls::Error::InappropriateMessage { .. }
            | rustls::Error::InappropriateHandshakeMessage { .. },
        ) => "did not answer with TLS (does its parties.toml say `tls = false`?)".to_string(),
        Some(e) => describe(e),
        None if matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ) =>
        {
            format!("no answer within {}", super::seconds(wait))
        }
        None if matches!(
            e.kind(),
            io::ErrorKind::UnexpectedEof
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
        ) =>
        {
            "connection closed (does its parties.toml say `tls = false`, or list another \
             certificate for this party?)"
                .to_string()
        }
        None => e.to_string(),
    };
    format!("TLS handshake: {text}")
}

/// A rustls error for people; alerts that mean "your certificate was refused" say so.
fn describe(e: &rustls::Error) -> String {
    match e {
        rustls::Error::AlertReceived(
            alert @ (AlertDescription::AccessDenied
            | AlertDescription::BadCertificate
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnknownCA
            | AlertDescription::DecryptError
            | AlertDescription::CertificateRequired),
        ) => format!(
            "refused this party's certificate (TLS alert {alert:?}): the parties.toml it \
             uses must list the certificate of this party's key"
        ),
        rustls::Error::AlertReceived(alert) => format!("sent TLS alert {alert:?}"),
        rustls::Error::DecryptError => {
            "sent a TLS record that does not decrypt (corrupted or forged)".to_string()
        }
        e => format!("TLS error: {e}"),
    }
}

/// A poisoned lock means a thread panicked while encrypting; the connection is lost.
fn lock(conn: &Mutex<Connection>) -> io::Result<MutexGuard<'_, Connection>> {
    conn.lock()
        .map_err(|_| io::Error::other("a thread using this TLS connection panicked"))
}

/// How much plaintext rustls encrypts before its output is written to the socket.
const WRITE_CHUNK: usize = 256 << 10;

/// Encrypts `parts` in order and writes them to `socket`. Only one thread writes a
/// connection at a time (the transport guarantees it), so records reach the socket in
/// the order they were made.
pub(crate) fn write_all(
    conn: &Mutex<Connection>,
    mut socket: &TcpStream,
    parts: &[&[u8]],
) -> io::Result<()> {
    let mut cipher = Vec::new();
    let mut pending: Vec<&[u8]> = parts.iter().copied().filter(|p| !p.is_empty()).collect();
    pending.reverse();
    while !pending.is_empty() {
        {
            let mut conn = lock(conn)?;
            let mut taken = 0;
            while let Some(part) = pending.last_mut() {
                if taken >= WRITE_CHUNK {
                    break;
                }
                let n = conn.writer().write(&part[..part.len().min(WRITE_CHUNK)])?;
                if n == 0 {
                    break;
                }
                taken += n;
                *part = &part[n..];
                if part.is_empty() {
                    pending.pop();
                }
            }
            while conn.wants_write() {
                conn.write_tls(&mut cipher)?;
            }
            if taken == 0 && cipher.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "the TLS connection accepts no more data",
                ));
            }
        }
        socket.write_all(&cipher)?;
        cipher.clear();
    }
    Ok(())
}

/// The reading side of a TLS connection: reads ciphertext from the socket without
/// holding the lock, and decrypts under it. Read timeouts set on the socket apply.
pub(crate) struct TlsReader {
    socket: TcpStream,
    conn: Arc<Mutex<Connection>>,
    raw: Box<[u8]>,
    /// `raw[start..end]` is ciphertext read but not yet handed to rustls.
    start: usize,
    end: usize,
}

impl TlsReader {
    pub(crate) fn new(socket: TcpStream, conn: Arc<Mutex<Connection>>) -> TlsReader {
        TlsReader {
            socket,
            conn,
            raw: vec![0; 64 << 10].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    pub(crate) fn socket(&self) -> &TcpStream {
        &self.socket
    }

    /// Whether a read may return data without reading the socket: ciphertext read but
    /// not yet decrypted, or plaintext decrypted but not yet read (or an error to report).
    pub(crate) fn has_buffered(&self) -> bool {
        self.start < self.end
            || lock(&self.conn).map_or(true, |mut conn| {
                conn.process_new_packets()
                    .map_or(true, |state| state.plaintext_bytes_to_read() > 0)
            })
    }
}

impl Read for TlsReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            {
                let mut conn = lock(&self.conn)?;
                match conn.reader().read(out) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    result => return result,
                }
                if self.start < self.end {
                    let mut pending = &self.raw[self.start..self.end];
                    let before = pending.len();
                    conn.read_tls(&mut pending)?;
                    self.start += before - pending.len();
                    if let Err(e) = conn.process_new_packets() {
                        return Err(io::Error::new(io::ErrorKind::InvalidData, describe(&e)));
                    }
                    continue;
                }
            }
            let n = loop {
                match self.socket.read(&mut self.raw) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    result => break result?,
                }
            };
            (self.start, self.end) = (0, n);
            if n == 0 {
                // Tell rustls about the end of the stream: the next read returns Ok(0)
                // after a close_notify, UnexpectedEof otherwise.
                let mut conn = lock(&self.conn)?;
                conn.read_tls(&mut io::empty())?;
                if let Err(e) = conn.process_new_packets() {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, describe(&e)));
                }
                return match conn.reader().read(out) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        Err(io::ErrorKind::UnexpectedEof.into())
                    }
                    result => result,
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_certificates_name_the_party_and_load() {
        let (key, cert) = generate(2).unwrap();
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{key}");
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"), "{cert}");
        let der = CertificateDer::from_pem_slice(cert.as_bytes()).unwrap();
        // The DNS name is in the certificate as plain bytes.
        assert!(der.windows(6).any(|w| w == b"party2"));
        let others: Vec<String> = (0..3).map(|p| generate(p).unwrap().1).collect();
        let mut certs = others.clone();
        certs[2] = cert;
        let identity = Identity::from_pem(2, &certs, &key).unwrap();
        assert!(identity.server_config(2).is_ok());
        let wrong = Identity::from_pem(1, &certs, &key).unwrap();
        assert!(matches!(
            wrong.server_config(1),
            Err(rustls::Error::InconsistentKeys(_))
        ));
    }
}
