//! Opening the byte stream under a session: TCP from the chosen source address, then TLS for
//! `wss://`. Every transport connects this way.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};

use tokio::net::{TcpSocket, TcpStream};

use super::endpoint::Endpoint;
use super::error::ClientError;
use super::options::ConnectOptions;
use super::stream::Stream;
use crate::net::tls;

/// Opens the byte stream under a session: TCP from the chosen source address, then TLS for
/// `wss://`. Every transport connects this way.
pub(crate) async fn connect_stream(
    endpoint: &Endpoint,
    options: &ConnectOptions,
) -> Result<Stream, ClientError> {
    let tcp = connect_tcp(endpoint, options.local_ip).await?;
    if endpoint.tls {
        let tls = options.tls.clone().unwrap_or_else(default_tls);
        Stream::tls(tcp, &endpoint.host, tls)
            .await
            .map_err(|err| ClientError::Tls(err.to_string()))
    } else {
        Ok(Stream::Plain(tcp))
    }
}

async fn connect_tcp(
    endpoint: &Endpoint,
    local_ip: Option<IpAddr>,
) -> Result<TcpStream, ClientError> {
    let target = format!("{}:{}", endpoint.host, endpoint.port);
    let connect_err = |source| ClientError::Connect {
        addr: target.clone(),
        source,
    };
    let addr: SocketAddr = match target.parse() {
        Ok(addr) => addr,
        Err(_) => tokio::net::lookup_host(&target)
            .await
            .map_err(connect_err)?
            .next()
            .ok_or_else(|| connect_err(std::io::Error::other("host has no address")))?,
    };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(connect_err)?;
    if let Some(ip) = local_ip {
        defer_port_choice(&socket);
        socket.bind(SocketAddr::new(ip, 0)).map_err(connect_err)?;
    }
    let stream = socket.connect(addr).await.map_err(connect_err)?;
    stream.set_nodelay(true).map_err(connect_err)?;
    Ok(stream)
}

/// Lets the kernel pick the local port at `connect`, by the whole 4-tuple, rather than at
/// `bind` (`IP_BIND_ADDRESS_NO_PORT`): a `bind(ip, 0)` must find a port no other socket on
/// that address holds, a search that grows with every socket already bound there (thousands
/// per source address in a large run) and that caps an address at one socket per port
/// whatever the destination. Best effort: without it, `bind` works as before. Public for the
/// bare client (examples/bare_storm.rs), which must bind as the harness does.
pub fn defer_port_choice(socket: &TcpSocket) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let on: libc::c_int = 1;
        // SAFETY: setsockopt(2) on a socket this function borrows, with a pointer to a live
        // c_int and its size; the kernel copies the value and keeps no pointer.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::IPPROTO_IP,
                libc::IP_BIND_ADDRESS_NO_PORT,
                std::ptr::from_ref(&on).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = socket;
}

/// The TLS settings used when none are given: the public webpki roots, built once.
fn default_tls() -> Arc<rustls::ClientConfig> {
    static DEFAULT: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    DEFAULT
        .get_or_init(|| tls::client_config(None).expect("the built-in roots need no file"))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With the port choice deferred, `bind(ip, 0)` takes no port (the search a large run
    /// paid for at every connect); `connect` picks one.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_bound_source_address_takes_its_port_at_connect() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let socket = TcpSocket::new_v4().unwrap();
        defer_port_choice(&socket);
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        assert_eq!(
            socket.local_addr().unwrap().port(),
            0,
            "no port taken at bind"
        );
        let stream = socket
            .connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        assert_ne!(
            stream.local_addr().unwrap().port(),
            0,
            "a port chosen at connect"
        );
    }
}
