//! TLS of the control connection, with libpq's `sslmode` semantics.
//!
//! Decides whether a connection tries TLS, requires it, and what it checks of the server's
//! certificate; finds the root certificates where libpq would (`sslrootcert`, else
//! `PGSSLROOTCERT`, both resolved in `conn`, else `~/.postgresql/root.crt`; `system` is the
//! system's store) and builds the rustls connector. It reads root certificate files and opens
//! no connection; it also turns a failed handshake into a sentence.
//!
//! | sslmode            | TLS                         | certificate checked          |
//! |--------------------|-----------------------------|------------------------------|
//! | `disable`          | never                       | —                            |
//! | `allow`, `prefer`  | tried, plain if refused     | nothing                      |
//! | `require`          | required                    | nothing; the chain if a root certificate file exists |
//! | `verify-ca`        | required                    | the chain                    |
//! | `verify-full`      | required                    | the chain and the host name  |
//!
//! libpq's `allow` tries plain first and TLS second; tokio-postgres only has "TLS first", so
//! `allow` is `prefer` here. Unix sockets never use TLS, whatever the mode (libpq ignores
//! sslmode for them). Without a mode, it is `prefer`, or `verify-full` with
//! `sslrootcert: system` (which, as in libpq, refuses weaker modes).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode as Negotiate;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{ConnParams, Error};
use crate::config::file::SslMode;

/// libpq's root certificate file, relative to the home directory.
const DEFAULT_ROOT_FILE: &str = ".postgresql/root.crt";

/// The texts tokio-postgres gives its TLS errors, which it does not expose as kinds. They are
/// the library's own constants: no server's message and no locale is involved.
const TOKIO_TLS_FAILED: &str = "error performing TLS handshake";
const TOKIO_NO_TLS: &str = "server does not support TLS";

/// The special `sslrootcert` value for the system's certificate store.
const SYSTEM: &str = "system";

/// How one connection uses TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Policy {
    /// No TLS: `disable`, or a unix socket.
    Plain,
    /// TLS, with plain as fallback (`prefer`) or not (`require` and stronger).
    Tls { mode: SslMode, fallback: bool, check: Check },
}

/// What is checked of the server's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Check {
    /// Nothing but that the server holds its key (libpq's `allow`, `prefer`, `require`).
    Nothing,
    /// That it chains to one of the roots (`verify-ca`).
    Chain(Roots),
    /// That it chains to one of the roots and names the host (`verify-full`).
    ChainAndName(Roots),
}

/// Where the trusted root certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Roots {
    /// A PEM file of one or more certificates.
    File(PathBuf),
    /// The system's store (`sslrootcert: system`).
    System,
}

impl std::fmt::Display for Roots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Roots::File(path) => write!(f, "{}", path.display()),
            Roots::System => f.write_str("the system's certificate store"),
        }
    }
}

impl Policy {
    /// The policy for `params`, libpq's way; `home` is the user's home directory, where
    /// `.postgresql/root.crt` is looked for when no root certificate is configured.
    pub(crate) fn of(params: &ConnParams, home: Option<&Path>) -> Result<Policy, Error> {
        if params.is_socket() {
            return Ok(Policy::Plain);
        }
        let configured = params.sslrootcert.as_deref();
        let system = configured.is_some_and(|p| p == Path::new(SYSTEM));
        let mode = match params.sslmode {
            Some(mode) if system && mode != SslMode::VerifyFull => {
                return Err(tls_error(
                    params,
                    mode,
                    format!(
                        "sslrootcert=system needs sslmode=verify-full (as libpq), not {}",
                        mode.as_str()
                    ),
                ));
            }
            Some(mode) => mode,
            None if system => SslMode::VerifyFull,
            None => SslMode::Prefer,
        };
        let root_file =
            configured.map(Path::to_path_buf).or_else(|| home.map(|h| h.join(DEFAULT_ROOT_FILE)));
        let roots = || -> Result<Roots, Error> {
            if system {
                return Ok(Roots::System);
            }
            match &root_file {
                Some(file) if file.exists() => Ok(Roots::File(file.clone())),
                Some(file) => Err(tls_error(
                    params,
                    mode,
                    format!(
                        "no root certificate to verify the server's: {} does not exist \
                         (set services.<name>.postgres.sslrootcert or PGSSLROOTCERT to a PEM \
                         file, or to `system`)",
                        file.display()
                    ),
                )),
                None => Err(tls_error(
                    params,
                    mode,
                    "no root certificate to verify the server's: no home directory for \
                     ~/.postgresql/root.crt (set services.<name>.postgres.sslrootcert or \
                     PGSSLROOTCERT to a PEM file, or to `system`)"
                        .to_owned(),
                )),
            }
        };
        Ok(match mode {
            SslMode::Disable => Policy::Plain,
            SslMode::Allow | SslMode::Prefer => {
                Policy::Tls { mode, fallback: true, check: Check::Nothing }
            }
            // libpq: "if a root CA file exists, the behavior of sslmode=require will be the
            // same as that of verify-ca".
            SslMode::Require => {
                let check = match roots() {
                    Ok(roots) => Check::Chain(roots),
                    Err(_) => Check::Nothing,
                };
                Policy::Tls { mode, fallback: false, check }
            }
            SslMode::VerifyCa => {
                Policy::Tls { mode, fallback: false, check: Check::Chain(roots()?) }
            }
            SslMode::VerifyFull => {
                Policy::Tls { mode, fallback: false, check: Check::ChainAndName(roots()?) }
            }
        })
    }

    /// The policy for `params` with this process's home directory.
    pub(crate) fn from_env(params: &ConnParams) -> Result<Policy, Error> {
        let home = std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
        Policy::of(params, home.as_deref())
    }
}

/// tokio-postgres's negotiation and the rustls connector for a TLS policy.
pub(crate) fn connector(
    params: &ConnParams,
    mode: SslMode,
    fallback: bool,
    check: &Check,
) -> Result<(Negotiate, MakeRustlsConnect), Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let algorithms = provider.signature_verification_algorithms;
    let verifier: Arc<dyn ServerCertVerifier> = match check {
        Check::Nothing => Arc::new(Unnamed { roots: None, algorithms }),
        Check::Chain(roots) => {
            let roots = Some(Arc::new(load(params, mode, roots)?));
            Arc::new(Unnamed { roots, algorithms })
        }
        Check::ChainAndName(roots) => {
            let roots = Arc::new(load(params, mode, roots)?);
            WebPkiServerVerifier::builder_with_provider(roots, provider.clone()).build().map_err(
                |e| tls_error(params, mode, format!("cannot use the root certificates: {e}")),
            )?
        }
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(params, mode, e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    let negotiate = if fallback { Negotiate::Prefer } else { Negotiate::Require };
    Ok((negotiate, MakeRustlsConnect::new(config)))
}

/// The trusted roots from `roots`.
fn load(params: &ConnParams, mode: SslMode, roots: &Roots) -> Result<RootCertStore, Error> {
    let mut store = RootCertStore::empty();
    match roots {
        Roots::File(path) => {
            let unreadable = |e: &dyn std::fmt::Display| {
                tls_error(
                    params,
                    mode,
                    format!("cannot read root certificates {}: {e}", path.display()),
                )
            };
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| unreadable(&e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| unreadable(&e))?;
            let (added, _) = store.add_parsable_certificates(certs);
            if added == 0 {
                return Err(unreadable(&"no certificate in it"));
            }
        }
        Roots::System => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found
                    .errors
                    .first()
                    .map_or_else(|| "it is empty".to_owned(), |e| e.to_string());
                return Err(tls_error(
                    params,
                    mode,
                    format!("no root certificate in the system's store: {why}"),
                ));
            }
        }
    }
    Ok(store)
}

fn tls_error(params: &ConnParams, mode: SslMode, reason: String) -> Error {
    Error::Tls { target: params.target(), mode: mode.as_str(), reason }
}

/// The reason a TLS connection failed, in words, if it failed because of TLS: the server's
/// certificate, or a server without TLS where it is required.
pub(crate) fn failure(e: &tokio_postgres::Error, host: &str, check: &Check) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(error) = source {
        let inner = error
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        if let Some(tls) = error.downcast_ref::<rustls::Error>().or(inner) {
            return Some(describe(tls, host, check));
        }
        // tokio-postgres's own fixed text (the server only answers `N` to the TLS request),
        // never a server's message nor translated; it has no error kind to match instead.
        if error.to_string() == TOKIO_NO_TLS {
            return Some("the server does not support TLS".to_owned());
        }
        source = error.source();
    }
    None
}

/// Whether `e` is a failed TLS handshake (after which `prefer` tries plain, as libpq does):
/// tokio-postgres's text for its private `Kind::Tls`, as for [`TOKIO_NO_TLS`].
pub(crate) fn is_handshake_failure(e: &tokio_postgres::Error) -> bool {
    e.to_string().starts_with(TOKIO_TLS_FAILED)
}

fn describe(e: &rustls::Error, host: &str, check: &Check) -> String {
    let roots = match check {
        Check::Chain(roots) | Check::ChainAndName(roots) => roots.to_string(),
        Check::Nothing => "no root certificate".to_owned(),
    };
    match e {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer => {
                format!(
                    "the server's certificate is not trusted: it is not signed by a root certificate of {roots}"
                )
            }
            CertificateError::NotValidForName => {
                format!("the server's certificate is not valid for host name '{host}'")
            }
            CertificateError::NotValidForNameContext { presented, .. } => format!(
                "the server's certificate is not valid for host name '{host}' (it is for {})",
                presented.iter().map(|name| unquote(name)).collect::<Vec<_>>().join(", ")
            ),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "the server's certificate has expired".to_owned()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "the server's certificate is not valid yet".to_owned()
            }
            _ => format!("the server's certificate is not accepted: {e}"),
        },
        other => format!("TLS handshake failed: {other}"),
    }
}

/// `localhost` for rustls' `DnsName("localhost")`.
fn unquote(name: &str) -> &str {
    name.split('"').nth(1).unwrap_or(name)
}

/// Checks of the server's certificate short of its name (`verify-full` uses rustls' own
/// verifier). Without roots it accepts any certificate: libpq's `allow`, `prefer` and
/// `require` without a root certificate, encryption against eavesdroppers but no proof of who
/// the server is. With roots it checks that the certificate chains to one of them, not whom it
/// names: libpq's `verify-ca`. Either way the server must sign the handshake with the key of
/// the certificate it presents.
#[derive(Debug)]
struct Unnamed {
    roots: Option<Arc<RootCertStore>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Unnamed {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let cert = rustls::server::ParsedCertificate::try_from(end_entity)?;
            rustls::client::verify_server_cert_signed_by_trust_anchor(
                &cert,
                roots,
                intermediates,
                now,
                self.algorithms.all,
            )?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PgSettings;
    use crate::exit::ExitStatus;

    fn params(host: &str, sslmode: Option<SslMode>, sslrootcert: Option<&Path>) -> ConnParams {
        let settings = PgSettings {
            host: Some(host.to_owned()),
            sslmode,
            sslrootcert: sslrootcert.map(Path::to_path_buf),
            ..Default::default()
        };
        ConnParams::resolve(&settings, |_| None)
    }

    fn policy(host: &str, mode: Option<SslMode>, root: Option<&Path>, home: &Path) -> Policy {
        Policy::of(&params(host, mode, root), Some(home)).unwrap()
    }

    #[test]
    fn modes_map_like_libpq() {
        let home = tempfile::tempdir().unwrap();
        let home = home.path();
        let tls = |mode, fallback, check| Policy::Tls { mode, fallback, check };
        assert_eq!(policy("db", Some(SslMode::Disable), None, home), Policy::Plain);
        for mode in [SslMode::Allow, SslMode::Prefer] {
            assert_eq!(policy("db", Some(mode), None, home), tls(mode, true, Check::Nothing));
        }
        assert_eq!(policy("db", None, None, home), tls(SslMode::Prefer, true, Check::Nothing));
        assert_eq!(
            policy("db", Some(SslMode::Require), None, home),
            tls(SslMode::Require, false, Check::Nothing)
        );
        for mode in [None, Some(SslMode::Require), Some(SslMode::VerifyFull)] {
            assert_eq!(policy("/run/postgresql", mode, None, home), Policy::Plain, "{mode:?}");
        }
    }

    #[test]
    fn verify_modes_need_a_root_certificate() {
        let home = tempfile::tempdir().unwrap();
        for mode in [SslMode::VerifyCa, SslMode::VerifyFull] {
            let err = Policy::of(&params("db", Some(mode), None), Some(home.path())).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(".postgresql/root.crt does not exist"), "{text}");
            assert!(text.contains(mode.as_str()), "{text}");
            assert_eq!(err.exit_code(), crate::exit::ExitCode::Unreachable);
        }
        let missing = home.path().join("nope.pem");
        let err = Policy::of(&params("db", Some(SslMode::VerifyCa), Some(&missing)), None);
        assert!(err.unwrap_err().to_string().contains("nope.pem does not exist"));
    }

    #[test]
    fn a_root_certificate_is_used_where_found() {
        let home = tempfile::tempdir().unwrap();
        let default = home.path().join(DEFAULT_ROOT_FILE);
        std::fs::create_dir_all(default.parent().unwrap()).unwrap();
        std::fs::write(&default, "").unwrap();
        let home = home.path();
        let file = Roots::File(default.clone());
        // require with a root certificate file is verify-ca.
        assert_eq!(
            policy("db", Some(SslMode::Require), None, home),
            Policy::Tls {
                mode: SslMode::Require,
                fallback: false,
                check: Check::Chain(file.clone())
            }
        );
        assert_eq!(
            policy("db", Some(SslMode::VerifyFull), None, home),
            Policy::Tls {
                mode: SslMode::VerifyFull,
                fallback: false,
                check: Check::ChainAndName(file.clone())
            }
        );
        // prefer never verifies.
        assert_eq!(
            policy("db", Some(SslMode::Prefer), None, home),
            Policy::Tls { mode: SslMode::Prefer, fallback: true, check: Check::Nothing }
        );
        // The configured file wins over the default one.
        let own = home.join("own.pem");
        std::fs::write(&own, "").unwrap();
        assert_eq!(
            policy("db", Some(SslMode::VerifyCa), Some(&own), home),
            Policy::Tls {
                mode: SslMode::VerifyCa,
                fallback: false,
                check: Check::Chain(Roots::File(own))
            }
        );
    }

    #[test]
    fn system_roots_mean_verify_full() {
        let home = tempfile::tempdir().unwrap();
        let system = Some(Path::new("system"));
        assert_eq!(
            policy("db", None, system, home.path()),
            Policy::Tls {
                mode: SslMode::VerifyFull,
                fallback: false,
                check: Check::ChainAndName(Roots::System)
            }
        );
        let err = Policy::of(&params("db", Some(SslMode::Require), system), None).unwrap_err();
        assert!(err.to_string().contains("sslrootcert=system needs sslmode=verify-full"), "{err}");
    }

    #[test]
    fn a_root_file_without_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let p = params("db", Some(SslMode::VerifyCa), Some(&empty));
        let err = load(&p, SslMode::VerifyCa, &Roots::File(empty)).unwrap_err().to_string();
        assert!(err.contains("empty.pem") && err.contains("no certificate"), "{err}");
    }
}
