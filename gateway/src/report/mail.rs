//! Mailing a stored report to the site's email channels through the notification outbox
//! (durable: queued in the same store, retried with back-off like alarm notifications). The
//! outbox row names the stored report; the sender attaches its file when it sends.

pub use crate::notify::event::ReportMail;

use super::{Format, Kind};
use crate::i18n::{t, tr, Language};

/// The ids of the site's email channels: reports go by mail only.
pub fn email_channels(site: &kilowatch_site::config::SiteConfig) -> Vec<String> {
    site.notifications
        .iter()
        .filter(|c| c.kind == kilowatch_site::config::ChannelKind::Email)
        .map(|c| c.id.clone())
        .collect()
}

pub fn mail(
    report_id: i64,
    kind: Kind,
    period: &str,
    lang: Language,
    format: Format,
    site_name: &str,
) -> ReportMail {
    let title = t(
        lang,
        match kind {
            Kind::Monthly => "rep-monthly-title",
            Kind::Ghg => "rep-ghg-title",
        },
    );
    let args = [
        ("title", title.as_str()),
        ("period", period),
        ("site", site_name),
    ];
    ReportMail {
        report_id,
        subject: tr(lang, "rep-mail-subject", &args),
        text: tr(lang, "rep-mail-body", &args),
        filename: format!("{}-{period}-{}.{}", kind.code(), lang.tag(), format.code()),
        content_type: format.content_type().to_owned(),
    }
}
