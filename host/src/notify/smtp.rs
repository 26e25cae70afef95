//! SMTP delivery: plain to a local relay, STARTTLS, or implicit TLS, with
//! optional credentials from the environment.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::error::DeliveryError;
use super::{Mailer, render, valid_address};
use crate::directory::OutboxMessage;

/// How an SMTP connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain text (`smtp://`): only for a relay on the same machine.
    None,
    /// STARTTLS required (`smtp://…?tls=starttls`, usually port 587).
    StartTls,
    /// TLS from the first byte (`smtps://`, usually port 465).
    Implicit,
}

/// Where and how to send mail.
#[derive(Clone, Debug)]
pub struct SmtpSettings {
    /// `smtp://host[:port]` (plain), `smtp://host[:port]?tls=starttls`, or
    /// `smtps://host[:port]` (implicit TLS).
    pub url: String,
    /// The sender address.
    pub from: String,
    /// User name for `AUTH`, with [`Self::password`]; from the environment,
    /// never from the URL, and never logged.
    pub username: Option<String>,
    /// Password for `AUTH`.
    pub password: Option<String>,
    /// A PEM file of CA certificates to trust besides the public roots (a
    /// relay with a private CA).
    pub ca_file: Option<PathBuf>,
}

/// SMTP delivery: plain to a local relay, STARTTLS, or implicit TLS, with
/// optional credentials.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    label: String,
}

impl SmtpMailer {
    /// A plain-text mailer for `smtp://host:port` sending from `from`.
    pub fn new(url: &str, from: &str) -> Result<Self, String> {
        Self::with_settings(&SmtpSettings {
            url: url.into(),
            from: from.into(),
            username: None,
            password: None,
            ca_file: None,
        })
    }

    /// A mailer for `settings`.
    pub fn with_settings(settings: &SmtpSettings) -> Result<Self, String> {
        let url = settings.url.as_str();
        let (security, rest) = if let Some(rest) = url.strip_prefix("smtps://") {
            (SmtpSecurity::Implicit, rest)
        } else if let Some(rest) = url.strip_prefix("smtp://") {
            match rest.split_once('?') {
                Some((rest, "tls=starttls")) => (SmtpSecurity::StartTls, rest),
                Some((_, query)) => {
                    return Err(format!(
                        "SMTP URL `{url}`: unknown option `{query}` (the only one is `tls=starttls`)"
                    ));
                }
                None => (SmtpSecurity::None, rest),
            }
        } else {
            return Err(format!(
                "SMTP URL `{url}` must start with smtp:// (add `?tls=starttls` for STARTTLS) or smtps:// (implicit TLS)"
            ));
        };
        if rest.contains('@') {
            return Err(format!(
                "SMTP URL `{url}`: put credentials in PARTNERGATE_SMTP_USERNAME and PARTNERGATE_SMTP_PASSWORD, not in the URL"
            ));
        }
        let default_port = match security {
            SmtpSecurity::None => 25,
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::Implicit => 465,
        };
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) => (
                host,
                port.parse::<u16>()
                    .map_err(|_| format!("bad port in SMTP URL `{url}`"))?,
            ),
            None => (rest, default_port),
        };
        if host.is_empty() {
            return Err(format!("SMTP URL `{url}` names no host"));
        }
        let from = valid_address(&settings.from)
            .ok_or_else(|| format!("`{}` is not a valid sender address", settings.from))?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .timeout(Some(Duration::from_secs(10)));
        if security != SmtpSecurity::None {
            let mut tls = TlsParameters::builder(host.to_string());
            if let Some(path) = &settings.ca_file {
                let pem = std::fs::read(path)
                    .map_err(|e| format!("cannot read SMTP CA file `{}`: {e}", path.display()))?;
                let cert = Certificate::from_pem(&pem).map_err(|e| {
                    format!(
                        "SMTP CA file `{}` holds no PEM certificate: {e}",
                        path.display()
                    )
                })?;
                tls = tls.add_root_certificate(cert);
            }
            let tls = tls.build_rustls().map_err(|e| format!("SMTP TLS: {e}"))?;
            builder = builder.tls(match security {
                SmtpSecurity::Implicit => Tls::Wrapper(tls),
                _ => Tls::Required(tls),
            });
        }
        match (&settings.username, &settings.password) {
            (Some(user), Some(password)) => {
                builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
            }
            (None, None) => {}
            _ => {
                return Err(
                    "set both PARTNERGATE_SMTP_USERNAME and PARTNERGATE_SMTP_PASSWORD, or neither"
                        .into(),
                );
            }
        }
        let protection = match security {
            SmtpSecurity::None => "plain",
            SmtpSecurity::StartTls => "STARTTLS",
            SmtpSecurity::Implicit => "TLS",
        };
        Ok(Self {
            transport: builder.build(),
            from,
            label: format!("SMTP at {host}:{port} ({protection})"),
        })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    fn summary(&self) -> String {
        self.label.clone()
    }

    async fn deliver(&self, message: &OutboxMessage) -> Result<(), DeliveryError> {
        let n = &message.notification;
        let to = valid_address(&n.recipient)
            .ok_or_else(|| DeliveryError::InvalidRecipient(n.recipient.clone()))?;
        let (subject, body) = render(n);
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .message_id(Some(format!("<outbox-{}@partnergate>", message.id)))
            .body(body)
            .map_err(DeliveryError::Message)?;
        self.transport
            .send(email)
            .await
            .map(|_| ())
            .map_err(DeliveryError::Transport)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_url_must_be_smtp() {
        assert!(SmtpMailer::new("http://x", "a@b.test").is_err());
        assert!(SmtpMailer::new("smtp://u:p@x:25", "a@b.test").is_err());
        assert!(SmtpMailer::new("smtp://x:25?tls=maybe", "a@b.test").is_err());
        let tls = |url: &str| SmtpMailer::new(url, "a@b.test").map(|m| m.summary());
        assert_eq!(tls("smtp://x").unwrap(), "SMTP at x:25 (plain)");
        assert_eq!(
            tls("smtp://x?tls=starttls").unwrap(),
            "SMTP at x:587 (STARTTLS)"
        );
        assert_eq!(tls("smtps://x").unwrap(), "SMTP at x:465 (TLS)");
        assert!(SmtpMailer::new("smtp://127.0.0.1:2525", "not an address").is_err());
    }
}
