//! Where the metrics may be served: loopback unless the admin says otherwise, since the
//! endpoint has no authentication and names the host's VMs and their load.

use std::net::SocketAddr;

/// A --listen address refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ListenError {
    #[error(
        "--listen {0} is not a loopback address: the metrics endpoint has no authentication \
         and tells anyone who can reach it which VMs run here and how loaded they are. Keep \
         127.0.0.1 (and let Prometheus scrape through an SSH tunnel or a reverse proxy with \
         TLS), or pass --allow-remote to serve on {0} anyway"
    )]
    NotLoopback(SocketAddr),
}

/// Accepts a loopback address always, any other only with `allow_remote`.
pub fn check(addr: SocketAddr, allow_remote: bool) -> Result<SocketAddr, ListenError> {
    if addr.ip().is_loopback() || allow_remote {
        Ok(addr)
    } else {
        Err(ListenError::NotLoopback(addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_only_unless_allowed() {
        let v4: SocketAddr = "127.0.0.1:9477".parse().unwrap();
        let v6: SocketAddr = "[::1]:9477".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:9477".parse().unwrap();
        let lan: SocketAddr = "192.168.1.5:9477".parse().unwrap();
        assert_eq!(check(v4, false), Ok(v4));
        assert_eq!(check(v6, false), Ok(v6));
        assert_eq!(check(any, false), Err(ListenError::NotLoopback(any)));
        assert!(check(lan, false)
            .unwrap_err()
            .to_string()
            .contains("--allow-remote"));
        assert_eq!(check(lan, true), Ok(lan));
    }
}
