//! The HTTPS client every AWS call goes through, and the roots it trusts.
//!
//! rustls with the ring provider, verifying servers against the Amazon Trust Services roots
//! compiled in (`certs/`) plus, when `AWS_CA_BUNDLE` names one, a PEM file checked at cold
//! start. No system trust store is read.

use std::path::Path;

use aws_sdk_sns::config::SharedHttpClient;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// The root certificates of Amazon Trust Services, which issue every AWS endpoint's
/// certificate: the function's whole TLS trust store unless `AWS_CA_BUNDLE` adds to it.
pub const AWS_TRUST_ROOTS: &[u8] = include_bytes!("../../certs/amazon-trust-services.pem");

/// The HTTPS client every AWS call uses: rustls with ring, verifying servers against
/// [`AWS_TRUST_ROOTS`] plus `extra` (the file named by `AWS_CA_BUNDLE`, if any).
///
/// Not the SDK's default client, which loads and parses the whole system trust store
/// (hundreds of certificates, milliseconds of cold start) to reach endpoints that only
/// ever present Amazon Trust Services chains. Verification is the same rustls `WebPKI`
/// check; only the set of trusted roots is smaller.
pub fn https_client(extra: Option<&CaBundle>) -> SharedHttpClient {
    let mut trust = TrustStore::empty().with_native_roots(false);
    trust.add_pem_certificate(AWS_TRUST_ROOTS);
    if let Some(bundle) = extra {
        trust.add_pem_certificate(bundle.pem.clone());
    }
    let tls = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .expect("a TLS context with only a trust store always builds");
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .tls_context(tls)
        .build_https()
}

/// Why the `AWS_CA_BUNDLE` file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CaBundleError {
    /// The file cannot be read.
    #[error("AWS_CA_BUNDLE: cannot read {path}")]
    Unreadable {
        /// The path `AWS_CA_BUNDLE` holds.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file holds no PEM certificate, or one that is not a usable X.509 root.
    #[error("AWS_CA_BUNDLE: {path} is not a PEM file of root certificates: {reason}")]
    Invalid {
        /// The path `AWS_CA_BUNDLE` holds.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The `AWS_CA_BUNDLE` file, read and checked once at cold start: its PEM text (which the
/// SDK's trust store takes) and its certificates (which the Qase API client's takes).
#[derive(Debug, Clone)]
pub struct CaBundle {
    pem: Vec<u8>,
    certs: Vec<CertificateDer<'static>>,
}

impl CaBundle {
    /// The certificates, every one a usable trust anchor.
    pub fn into_certs(self) -> Vec<CertificateDer<'static>> {
        self.certs
    }
}

/// Reads the `AWS_CA_BUNDLE` file and checks, at cold start, that every certificate in it
/// is a usable trust anchor: the SDK would otherwise fail on it only at the first request.
pub fn read_ca_bundle(path: &Path) -> Result<CaBundle, CaBundleError> {
    let shown = path.display().to_string();
    let pem = std::fs::read(path).map_err(|source| CaBundleError::Unreadable {
        path: shown.clone(),
        source,
    })?;
    let invalid = |reason: String| CaBundleError::Invalid {
        path: shown.clone(),
        reason,
    };
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("{e:?}")))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in &certs {
        roots
            .add(cert.clone())
            .map_err(|e| invalid(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(invalid("no CERTIFICATE section".to_owned()));
    }
    Ok(CaBundle { pem, certs })
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    use sha2::{Digest, Sha256};

    use super::*;

    /// SHA-256 fingerprints published at <https://www.amazontrust.com/repository/>.
    const AMAZON_TRUST_SERVICES: [&str; 5] = [
        "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e", // Amazon Root CA 1
        "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4", // Amazon Root CA 2
        "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4", // Amazon Root CA 3
        "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092", // Amazon Root CA 4
        "568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5", // Starfield Services G2
    ];

    fn scratch_file(name: &str, contents: &[u8]) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("{}-{name}", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn the_compiled_in_roots_are_exactly_amazon_trust_services() {
        let fingerprints: Vec<String> = CertificateDer::pem_slice_iter(AWS_TRUST_ROOTS)
            .map(|cert| {
                Sha256::digest(cert.unwrap())
                    .iter()
                    .fold(String::new(), |mut s, b| {
                        write!(s, "{b:02x}").unwrap();
                        s
                    })
            })
            .collect();
        assert_eq!(fingerprints, AMAZON_TRUST_SERVICES);
    }

    #[test]
    fn a_ca_bundle_of_root_certificates_is_read() {
        let path = scratch_file("bundle.pem", AWS_TRUST_ROOTS);
        let bundle = read_ca_bundle(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(bundle.pem, AWS_TRUST_ROOTS);
        assert_eq!(bundle.into_certs().len(), 5);
    }

    #[test]
    fn an_unusable_ca_bundle_is_refused_at_cold_start_naming_the_variable() {
        let not_a_cert = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let missing = read_ca_bundle(std::path::Path::new("/nonexistent/bundle.pem"));
        let mut refused = vec![("missing", missing.unwrap_err())];
        for (name, contents) in [
            ("empty.pem", &b""[..]),
            ("text.pem", &b"just text\n"[..]),
            ("garbage.pem", &not_a_cert[..]),
        ] {
            let path = scratch_file(name, contents);
            refused.push((name, read_ca_bundle(&path).unwrap_err()));
            std::fs::remove_file(&path).unwrap();
        }
        for (name, err) in refused {
            let unreadable = matches!(err, CaBundleError::Unreadable { .. });
            assert_eq!(unreadable, name == "missing", "{name}: {err}");
            assert!(
                err.to_string().starts_with("AWS_CA_BUNDLE: "),
                "{name}: {err}"
            );
        }
    }
}
