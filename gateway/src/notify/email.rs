//! Email delivery over SMTP (`lettre`): STARTTLS or TLS with certificate checks (rustls and
//! the webpki roots, plus the channel's `ca_file`), or plain text to a relay on this machine;
//! login when a user is set.

use std::time::Duration;

use kilowatch_site::config::SmtpSecurity;
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::webhook::error_chain;

/// An SMTP channel: the transport and the envelope.
pub struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
}

/// The channel's settings with its password read.
pub struct EmailSettings<'a> {
    pub host: &'a str,
    pub port: u16,
    pub security: SmtpSecurity,
    pub login: Option<(String, String)>,
    /// PEM certificates of CAs to trust besides the public roots (`ca_file`'s contents).
    pub ca_pem: Option<Vec<u8>>,
    pub from: &'a str,
    pub to: &'a [String],
}

impl Email {
    pub fn new(s: EmailSettings) -> anyhow::Result<Email> {
        let tls = || -> anyhow::Result<TlsParameters> {
            let mut params = TlsParameters::builder(s.host.to_owned());
            if let Some(pem) = &s.ca_pem {
                let ca = Certificate::from_pem(pem)
                    .map_err(|e| anyhow::anyhow!("ca_file: {}", error_chain(&e)))?;
                params = params.add_root_certificate(ca);
            }
            Ok(params.build()?)
        };
        // `builder_dangerous` is only the plain builder: TLS is set on it for both secure kinds.
        let plain = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host);
        let builder = match s.security {
            SmtpSecurity::Starttls => plain.tls(Tls::Required(tls()?)),
            SmtpSecurity::Tls => plain.tls(Tls::Wrapper(tls()?)),
            SmtpSecurity::None => plain,
        };
        let mut builder = builder.port(s.port).timeout(Some(Duration::from_secs(20)));
        if let Some((user, password)) = s.login {
            builder = builder.credentials(Credentials::new(user, password));
        }
        let from = s
            .from
            .parse()
            .map_err(|e| anyhow::anyhow!("from: `{}`: {e}", s.from))?;
        let to =
            s.to.iter()
                .map(|t| t.parse().map_err(|e| anyhow::anyhow!("to: `{t}`: {e}")))
                .collect::<anyhow::Result<_>>()?;
        Ok(Email {
            transport: builder.build(),
            from,
            to,
        })
    }

    /// Sends one plain-text message. `id` (the outbox row's event key and channel) becomes the
    /// Message-ID, so a mail client shows a repeat after a crash as the same message.
    pub async fn send(&self, id: &str, subject: &str, body: String) -> anyhow::Result<()> {
        let mut m = Message::builder()
            .from(self.from.clone())
            .subject(subject)
            .message_id(Some(message_id(id)))
            .header(ContentType::TEXT_PLAIN);
        for to in &self.to {
            m = m.to(to.clone());
        }
        let message = m.body(body)?;
        self.transport
            .send(message)
            .await
            .map_err(|e| anyhow::anyhow!("SMTP: {}", error_chain(&e)))?;
        Ok(())
    }
}

impl Email {
    /// Sends a plain-text message with one attached file (a report).
    pub async fn send_attachment(
        &self,
        id: &str,
        subject: &str,
        body: String,
        file: (&str, &str, Vec<u8>),
    ) -> anyhow::Result<()> {
        use lettre::message::{Attachment, MultiPart, SinglePart};
        let (name, content_type, bytes) = file;
        let mut m = Message::builder()
            .from(self.from.clone())
            .subject(subject)
            .message_id(Some(message_id(id)));
        for to in &self.to {
            m = m.to(to.clone());
        }
        let ct = ContentType::parse(content_type)
            .map_err(|e| anyhow::anyhow!("content type `{content_type}`: {e}"))?;
        let message = m.multipart(
            MultiPart::mixed()
                .singlepart(SinglePart::plain(body))
                .singlepart(Attachment::new(name.to_owned()).body(bytes, ct)),
        )?;
        self.transport
            .send(message)
            .await
            .map_err(|e| anyhow::anyhow!("SMTP: {}", error_chain(&e)))?;
        Ok(())
    }
}

/// `<...@kilowatch>` from the key, keeping only characters a Message-ID allows.
fn message_id(id: &str) -> String {
    let local: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-._".contains(c) {
                c
            } else {
                '.'
            }
        })
        .collect();
    format!("<{local}@kilowatch>")
}

#[cfg(test)]
mod tests {
    #[test]
    fn message_ids_are_well_formed() {
        assert_eq!(
            super::message_id("demand:17:raised/ops"),
            "<demand.17.raised.ops@kilowatch>"
        );
    }
}
