//! The embedded MQTT broker (rumqttd) used by `demo`. Production sites run mosquitto or a
//! clustered broker; the demo must work with nothing installed.

use std::net::{SocketAddr, TcpListener};

use anyhow::Context as _;

/// Starts a broker on a free loopback port and returns its address. The broker runs on its
/// own threads for the life of the process.
pub fn start_embedded() -> anyhow::Result<SocketAddr> {
    // rumqttd takes an address, not a socket: find a free port and hand it over.
    let addr = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .context("no free loopback port for the embedded broker")?;
    let config = format!(
        r#"
id = 0
[router]
id = 0
max_connections = 1000
max_outgoing_packet_count = 200
max_segment_size = 10485760
max_segment_count = 10

[v4.1]
name = "demo"
listen = "{addr}"
next_connection_delay_ms = 1
[v4.1.connections]
connection_timeout_ms = 60000
max_payload_size = 1048576
max_inflight_count = 500
dynamic_filters = true
"#
    );
    let config: rumqttd::Config =
        toml::from_str(&config).context("embedded broker configuration")?;
    let mut broker = rumqttd::Broker::new(config);
    std::thread::Builder::new()
        .name("mqtt-broker".into())
        .spawn(move || {
            if let Err(e) = broker.start() {
                tracing::error!("embedded MQTT broker stopped: {e}");
            }
        })
        .context("cannot start the broker thread")?;
    // Wait until it accepts connections.
    for _ in 0..100 {
        if std::net::TcpStream::connect(addr).is_ok() {
            return Ok(addr);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    anyhow::bail!("embedded MQTT broker did not start listening on {addr}")
}
