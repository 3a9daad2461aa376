//! The agent's MQTT connection: options from the site file (MQTT 3.1.1 or 5, credentials, TLS)
//! and one small interface over rumqttc's two protocol modules, so the publisher is written
//! once.
//!
//! TLS uses native-tls, i.e. the system's OpenSSL on Linux, which the distribution patches;
//! rumqttc's default rustls stack pins a rustls-webpki release with open advisories.

use std::time::Duration;

use anyhow::{bail, Context as _};
use rumqttc::{TlsConfiguration, Transport};

use crate::config::{MqttConfig, MqttProtocol};

/// The largest MQTT packet body there is (the protocol's limit on "remaining length"). Clients
/// accept whatever the broker accepted and decide afterwards what to keep: a smaller client
/// limit drops the connection on a large message, and the broker delivers the same message
/// again at every reconnect, stalling the client for good.
pub const MAX_INCOMING_PACKET: usize = 268_435_455;

/// What this side publishes at most (a poll is a few KB).
pub const MAX_OUTGOING_PACKET: usize = 1 << 20;

/// Splits `host:port`.
pub fn host_port(addr: &str) -> anyhow::Result<(String, u16)> {
    let (host, port) = addr
        .rsplit_once(':')
        .with_context(|| format!("`{addr}` is not host:port"))?;
    let port = port
        .parse()
        .with_context(|| format!("`{addr}`: bad port"))?;
    Ok((host.trim_matches(['[', ']']).to_owned(), port))
}

/// A password that never appears in logs or `Debug` output.
#[derive(Clone)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Reads the broker password from the configured file or environment variable. Errors name the
/// key and the file or variable, never the contents.
pub fn password(cfg: &MqttConfig) -> anyhow::Result<Option<Secret>> {
    if let Some(path) = &cfg.password_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("mqtt.password_file: cannot read {path}"))?;
        let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
        if line.is_empty() {
            bail!("mqtt.password_file: {path} is empty");
        }
        return Ok(Some(Secret(line.to_owned())));
    }
    if let Some(var) = &cfg.password_env {
        let value = std::env::var(var).map_err(|_| {
            anyhow::anyhow!("mqtt.password_env: environment variable {var} is not set")
        })?;
        return Ok(Some(Secret(value)));
    }
    Ok(None)
}

fn tls_connector(cfg: &MqttConfig) -> anyhow::Result<Option<native_tls::TlsConnector>> {
    if !cfg.tls && cfg.ca_file.is_none() && cfg.client_cert.is_none() {
        return Ok(None);
    }
    let mut builder = native_tls::TlsConnector::builder();
    if let Some(path) = &cfg.ca_file {
        let pem =
            std::fs::read(path).with_context(|| format!("mqtt.ca_file: cannot read {path}"))?;
        let ca = native_tls::Certificate::from_pem(&pem)
            .with_context(|| format!("mqtt.ca_file: {path} is not a PEM certificate"))?;
        builder.add_root_certificate(ca);
    }
    if let (Some(cert), Some(key)) = (&cfg.client_cert, &cfg.client_key) {
        let cert_pem =
            std::fs::read(cert).with_context(|| format!("mqtt.client_cert: cannot read {cert}"))?;
        let key_pem =
            std::fs::read(key).with_context(|| format!("mqtt.client_key: cannot read {key}"))?;
        let identity = native_tls::Identity::from_pkcs8(&cert_pem, &key_pem).with_context(|| {
            format!("mqtt.client_cert/client_key: {cert} and {key} are not a PEM certificate and PKCS#8 key")
        })?;
        builder.identity(identity);
    }
    Ok(Some(builder.build().context("mqtt: cannot set up TLS")?))
}

/// Everything needed to open a session; cheap to reuse for every reconnect.
pub struct Connector {
    protocol: MqttProtocol,
    client_id: String,
    host: String,
    port: u16,
    username: Option<String>,
    password: Option<Secret>,
    tls: Option<native_tls::TlsConnector>,
    will: Option<(String, Vec<u8>)>,
    /// The will is retained (the status topic), or not (Sparkplug's NDEATH).
    will_retain: bool,
    /// A fresh session per connection (Sparkplug edge nodes) instead of a persistent one.
    clean: bool,
    keep_alive: Duration,
}

impl Connector {
    /// `will`: topic and payload the broker publishes (retained, QoS 1) if the session dies.
    pub fn new(
        cfg: &MqttConfig,
        client_id: String,
        will: Option<(String, Vec<u8>)>,
    ) -> anyhow::Result<Self> {
        let (host, port) = host_port(&cfg.broker).context("mqtt.broker")?;
        Ok(Self {
            protocol: cfg.protocol,
            client_id,
            host,
            port,
            username: cfg.username.clone(),
            password: password(cfg)?,
            tls: tls_connector(cfg)?,
            will,
            will_retain: true,
            clean: false,
            keep_alive: Duration::from_secs(15),
        })
    }

    /// A Sparkplug edge node's session: clean, with a will that is not retained.
    pub fn sparkplug(mut self) -> Self {
        self.will_retain = false;
        self.clean = true;
        self
    }

    pub fn describe(&self) -> String {
        format!(
            "{}:{} (MQTT {}{}{})",
            self.host,
            self.port,
            match self.protocol {
                MqttProtocol::V311 => "3.1.1",
                MqttProtocol::V5 => "5",
            },
            if self.tls.is_some() { ", TLS" } else { "" },
            self.username
                .as_ref()
                .map(|u| format!(", user {u}"))
                .unwrap_or_default()
        )
    }

    fn transport(&self) -> Transport {
        match &self.tls {
            Some(c) => Transport::tls_with_config(TlsConfiguration::NativeConnector(c.clone())),
            None => Transport::Tcp,
        }
    }

    /// MQTT 3.1.1 options with this connector's id, address, credentials and TLS, persistent
    /// session, for clients other than the publisher (the gateway's consumer).
    pub fn v4_options(&self) -> rumqttc::MqttOptions {
        let mut o = rumqttc::MqttOptions::new(&self.client_id, &self.host, self.port);
        o.set_keep_alive(self.keep_alive)
            .set_clean_session(false)
            .set_max_packet_size(MAX_INCOMING_PACKET, MAX_OUTGOING_PACKET)
            .set_transport(self.transport());
        if let Some(u) = &self.username {
            let pass = self
                .password
                .as_ref()
                .map(|p| p.expose().to_owned())
                .unwrap_or_default();
            o.set_credentials(u, pass);
        }
        o
    }

    /// A fresh client and event loop: a new session object per connection, so nothing rumqttc
    /// kept in memory is replayed behind the spool's back. The broker keeps the persistent
    /// session (fixed client id, no clean start).
    pub fn connect(&self, capacity: usize, inflight: u16) -> (Client, Events) {
        let pass = self
            .password
            .as_ref()
            .map(|p| p.expose().to_owned())
            .unwrap_or_default();
        match self.protocol {
            MqttProtocol::V311 => {
                let mut o = rumqttc::MqttOptions::new(&self.client_id, &self.host, self.port);
                o.set_keep_alive(self.keep_alive)
                    .set_clean_session(self.clean)
                    .set_inflight(inflight)
                    .set_max_packet_size(MAX_INCOMING_PACKET, MAX_OUTGOING_PACKET)
                    .set_transport(self.transport());
                if let Some(u) = &self.username {
                    o.set_credentials(u, pass);
                }
                if let Some((topic, payload)) = &self.will {
                    o.set_last_will(rumqttc::LastWill::new(
                        topic,
                        payload.clone(),
                        rumqttc::QoS::AtLeastOnce,
                        self.will_retain,
                    ));
                }
                let (c, e) = rumqttc::AsyncClient::new(o, capacity);
                (Client::V4(c), Events::V4(Box::new(e)))
            }
            MqttProtocol::V5 => {
                use rumqttc::v5;
                let mut o = v5::MqttOptions::new(&self.client_id, &self.host, self.port);
                o.set_keep_alive(self.keep_alive)
                    .set_clean_start(self.clean)
                    // Keep the session for a day of broker-side absence.
                    .set_session_expiry_interval(Some(86_400))
                    .set_outgoing_inflight_upper_limit(inflight)
                    .set_max_packet_size(Some(MAX_INCOMING_PACKET as u32))
                    .set_transport(self.transport());
                if let Some(u) = &self.username {
                    o.set_credentials(u, pass);
                }
                if let Some((topic, payload)) = &self.will {
                    o.set_last_will(v5::mqttbytes::v5::LastWill::new(
                        topic,
                        payload.clone(),
                        v5::mqttbytes::QoS::AtLeastOnce,
                        self.will_retain,
                        None,
                    ));
                }
                let (c, e) = v5::AsyncClient::new(o, capacity);
                (Client::V5(c), Events::V5(Box::new(e)))
            }
        }
    }
}

#[derive(Clone)]
pub enum Client {
    V4(rumqttc::AsyncClient),
    V5(rumqttc::v5::AsyncClient),
}

impl Client {
    /// Queues a QoS 1 publish; waits while the request queue is full.
    pub async fn publish(&self, topic: &str, retain: bool, payload: Vec<u8>) -> Result<(), String> {
        match self {
            Client::V4(c) => c
                .publish(topic, rumqttc::QoS::AtLeastOnce, retain, payload)
                .await
                .map_err(|e| e.to_string()),
            Client::V5(c) => c
                .publish(
                    topic,
                    rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
                    retain,
                    payload,
                )
                .await
                .map_err(|e| e.to_string()),
        }
    }

    /// Queues a QoS 0 publish without waiting, not retained: Sparkplug 3.0 sends births, data
    /// and device deaths at QoS 0 (only the NDEATH, the node's will, at QoS 1).
    pub fn try_publish_at_most_once(&self, topic: &str, payload: Vec<u8>) -> Result<(), String> {
        match self {
            Client::V4(c) => c
                .try_publish(topic, rumqttc::QoS::AtMostOnce, false, payload)
                .map_err(|e| e.to_string()),
            Client::V5(c) => c
                .try_publish(
                    topic,
                    rumqttc::v5::mqttbytes::QoS::AtMostOnce,
                    false,
                    payload,
                )
                .map_err(|e| e.to_string()),
        }
    }

    /// Queues a QoS 1 publish without waiting (for the task that drives the event loop).
    pub fn try_publish(&self, topic: &str, retain: bool, payload: Vec<u8>) -> Result<(), String> {
        match self {
            Client::V4(c) => c
                .try_publish(topic, rumqttc::QoS::AtLeastOnce, retain, payload)
                .map_err(|e| e.to_string()),
            Client::V5(c) => c
                .try_publish(
                    topic,
                    rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
                    retain,
                    payload,
                )
                .map_err(|e| e.to_string()),
        }
    }

    /// Queues a QoS 1 subscription; waits while the request queue is full.
    pub async fn subscribe(&self, filter: &str) -> Result<(), String> {
        match self {
            Client::V4(c) => c
                .subscribe(filter, rumqttc::QoS::AtLeastOnce)
                .await
                .map_err(|e| e.to_string()),
            Client::V5(c) => c
                .subscribe(filter, rumqttc::v5::mqttbytes::QoS::AtLeastOnce)
                .await
                .map_err(|e| e.to_string()),
        }
    }

    pub fn try_disconnect(&self) {
        let _ = match self {
            Client::V4(c) => c.try_disconnect().map_err(|e| e.to_string()),
            Client::V5(c) => c.try_disconnect().map_err(|e| e.to_string()),
        };
    }
}

/// What the publisher needs to know from the event loop.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    Connected,
    /// A publish left with this packet id (in the order they were queued).
    Sent(u16),
    /// The broker acknowledged the publish with this packet id.
    Acked(u16),
    /// The broker confirmed a subscription.
    Subscribed,
    /// A message arrived on a subscribed topic.
    Message {
        topic: String,
        payload: Vec<u8>,
    },
    Disconnected,
    Other,
}

/// A failed or lost connection.
#[derive(Debug)]
pub struct ConnectionError {
    pub message: String,
    /// The broker refused our credentials: retrying fast will not help.
    pub refused: bool,
}

pub enum Events {
    V4(Box<rumqttc::EventLoop>),
    V5(Box<rumqttc::v5::EventLoop>),
}

impl Events {
    pub async fn next(&mut self) -> Result<Event, ConnectionError> {
        match self {
            Events::V4(e) => {
                use rumqttc::{ConnectReturnCode as C, Event as E, Outgoing, Packet};
                match e.poll().await {
                    Ok(E::Incoming(Packet::ConnAck(_))) => Ok(Event::Connected),
                    Ok(E::Incoming(Packet::PubAck(a))) => Ok(Event::Acked(a.pkid)),
                    Ok(E::Incoming(Packet::SubAck(_))) => Ok(Event::Subscribed),
                    Ok(E::Incoming(Packet::Publish(p))) => Ok(Event::Message {
                        topic: p.topic,
                        payload: p.payload.to_vec(),
                    }),
                    Ok(E::Outgoing(Outgoing::Publish(pkid))) => Ok(Event::Sent(pkid)),
                    Ok(E::Outgoing(Outgoing::Disconnect)) => Ok(Event::Disconnected),
                    Ok(_) => Ok(Event::Other),
                    Err(rumqttc::ConnectionError::ConnectionRefused(code)) => {
                        Err(ConnectionError {
                            message: match code {
                                C::BadUserNamePassword => {
                                    "broker refused the connection: bad user name or password (check mqtt.username and the password)"
                                        .into()
                                }
                                C::NotAuthorized => {
                                    "broker refused the connection: not authorised (check mqtt.username and the password, or the broker's ACL for this client id)".into()
                                }
                                other => format!("broker refused the connection: {other:?}"),
                            },
                            refused: true,
                        })
                    }
                    Err(e) => Err(ConnectionError {
                        message: e.to_string(),
                        refused: false,
                    }),
                }
            }
            Events::V5(e) => {
                use rumqttc::v5::mqttbytes::v5::{ConnectReturnCode as C, Packet};
                use rumqttc::v5::Event as E;
                use rumqttc::Outgoing;
                match e.poll().await {
                    Ok(E::Incoming(Packet::ConnAck(_))) => Ok(Event::Connected),
                    Ok(E::Incoming(Packet::PubAck(a))) => Ok(Event::Acked(a.pkid)),
                    Ok(E::Incoming(Packet::SubAck(_))) => Ok(Event::Subscribed),
                    Ok(E::Incoming(Packet::Publish(p))) => Ok(Event::Message {
                        topic: String::from_utf8_lossy(&p.topic).into_owned(),
                        payload: p.payload.to_vec(),
                    }),
                    Ok(E::Outgoing(Outgoing::Publish(pkid))) => Ok(Event::Sent(pkid)),
                    Ok(E::Outgoing(Outgoing::Disconnect)) => Ok(Event::Disconnected),
                    Ok(_) => Ok(Event::Other),
                    Err(rumqttc::v5::ConnectionError::ConnectionRefused(code)) => {
                        Err(ConnectionError {
                            message: match code {
                                C::BadUserNamePassword => {
                                    "broker refused the connection: bad user name or password (check mqtt.username and the password)"
                                        .into()
                                }
                                C::NotAuthorized => {
                                    "broker refused the connection: not authorised (check mqtt.username and the password, or the broker's ACL for this client id)".into()
                                }
                                other => format!("broker refused the connection: {other:?}"),
                            },
                            refused: true,
                        })
                    }
                    Err(e) => Err(ConnectionError {
                        message: e.to_string(),
                        refused: false,
                    }),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::host_port;

    #[test]
    fn splits_host_and_port() {
        assert_eq!(
            host_port("127.0.0.1:1883").unwrap(),
            ("127.0.0.1".into(), 1883)
        );
        assert_eq!(host_port("[::1]:1883").unwrap(), ("::1".into(), 1883));
        assert!(host_port("broker").is_err());
        assert!(host_port("broker:mqtt").is_err());
    }
}
