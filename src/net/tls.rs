//! TLS for `wss://` instances and `https://` directories (rustls, the webpki roots, plus any
//! CA a scenario names for a staging cluster's private certificates).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

/// Why the TLS settings could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read CA certificates from {path}: {reason}")]
    CaFile { path: String, reason: String },
}

/// A client configuration trusting the public webpki roots and, if given, the PEM
/// certificates of `ca_file`.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca_file {
        let failed = |reason: String| TlsError::CaFile {
            path: path.display().to_string(),
            reason,
        };
        let certificates =
            CertificateDer::pem_file_iter(path).map_err(|err| failed(err.to_string()))?;
        let mut added = 0;
        for certificate in certificates {
            let certificate = certificate.map_err(|err| failed(err.to_string()))?;
            roots
                .add(certificate)
                .map_err(|err| failed(err.to_string()))?;
            added += 1;
        }
        if added == 0 {
            return Err(failed("no PEM certificate in the file".into()));
        }
    }
    Ok(Arc::new(
        ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_empty_ca_file_is_a_clear_error() {
        let err = client_config(Some(Path::new("/nonexistent/ca.pem"))).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
        let empty =
            std::env::temp_dir().join(format!("presence-bench-empty-{}.pem", std::process::id()));
        std::fs::write(&empty, "not a certificate\n").unwrap();
        assert!(client_config(Some(&empty))
            .unwrap_err()
            .to_string()
            .contains("no PEM certificate"));
        std::fs::remove_file(&empty).unwrap();
        assert!(client_config(None).is_ok());
    }
}
