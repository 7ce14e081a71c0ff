//! `wss://` instances and `https://` directories: the harness speaks TLS (rustls) to a
//! cluster behind a TLS proxy with a private CA, and refuses a certificate it cannot verify.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::common::*;
use presence_bench::measure::Metric;
use presence_bench::scenario;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// A self-signed certificate for 127.0.0.1: its PEM (the CA to trust) and a TLS acceptor.
fn certificate() -> (String, TlsAcceptor) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("a certificate");
    let der = CertificateDer::from(certified.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![der], key)
        .expect("a key");
    (certified.cert.pem(), TlsAcceptor::from(Arc::new(config)))
}

/// Terminates TLS on a port of its own and forwards the plain bytes to `backend`.
async fn tls_proxy(acceptor: TlsAcceptor, backend: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let front = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let (Ok(mut tls), Ok(mut plain)) = (
                    acceptor.accept(client).await,
                    TcpStream::connect(backend).await,
                ) else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    front
}

fn address_of(url: &str) -> SocketAddr {
    let host_port = url.split("://").nth(1).unwrap().split('/').next().unwrap();
    host_port.parse().expect("an address")
}

fn yaml(url: &str, ca_file: Option<&std::path::Path>) -> String {
    let ca = ca_file
        .map(|path| format!("  ca_file: {}\n", path.display()))
        .unwrap_or_default();
    format!(
        "name: tls\nseed: 5\ntarget:\n  url: {url}\n{ca}duration: 1100ms\n\
         load: {{ stages: [ {{ to: 5, over: 200ms }}, {{ hold: 800ms }}, {{ to: 0, over: \
         100ms }} ] }}\n\
         behaviors: [ {{ name: b, steps: [connect, presence, presence, {{ hold: 5s }}] }} ]\n"
    )
}

fn ca_file(pem: &str, name: &str) -> std::path::PathBuf {
    let path =
        std::env::temp_dir().join(format!("presence-bench-{name}-{}.pem", std::process::id()));
    std::fs::write(&path, pem).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visitors_reach_a_wss_instance_and_an_https_directory() {
    let cluster = cluster(settings()).await;
    let (pem, acceptor) = certificate();
    let ca = ca_file(&pem, "ca");
    let instance = tls_proxy(acceptor.clone(), address_of(&url(&cluster, "s1"))).await;
    let directory = tls_proxy(acceptor, address_of(&cluster.directory_url())).await;
    for target in [
        format!("wss://{instance}/presence"),
        format!("https://{directory}"),
    ] {
        let plan = scenario::from_str(&yaml(&target, Some(&ca)), "tls.yaml").expect("valid");
        let totals = start_run(plan).finished().await.totals;
        assert!(totals.errors.is_empty(), "{target}: {:?}", totals.errors);
        assert_eq!(totals.histogram(Metric::Connect).len(), 5, "{target}");
        assert_eq!(totals.histogram(Metric::PresenceAck).len(), 10, "{target}");
    }
    std::fs::remove_file(&ca).unwrap();
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_nobody_vouches_for_is_refused() {
    let cluster = cluster(settings()).await;
    let (_, acceptor) = certificate();
    let instance = tls_proxy(acceptor, address_of(&url(&cluster, "s1"))).await;
    let plan = scenario::from_str(
        &yaml(&format!("wss://{instance}/presence"), None),
        "tls.yaml",
    )
    .expect("valid");
    // Found before the load starts, and named.
    let Err(err) = start_run(plan).ended().await else {
        panic!("no session over an unverified certificate")
    };
    assert!(
        err.to_string().starts_with("target down: TLS failure: "),
        "{err}"
    );
    cluster.shutdown().await;
}
