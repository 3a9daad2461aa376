//! The schedule against a real store: a due report is made once, stored, listed and queued for
//! the email channels; the next tick finds it stored and makes nothing.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use kilowatch_site::config::SiteConfig;
use kilowatch_site::profile::ProfileLibrary;

use super::schedule::{tick, Schedule};
use crate::enpi::Assets;
use crate::review::ReviewSite;
use crate::store::{Readers, Store, StoreWriter};

#[tokio::test]
async fn a_due_report_is_made_once_stored_and_queued_for_mail() {
    let mut text = crate::DEMO_SITE.to_owned();
    text.push_str(
        "\n[[notifications]]\nid = \"ops\"\nkind = \"email\"\nsmtp_host = \"127.0.0.1\"\n\
         security = \"none\"\nfrom = \"kw@plant.example\"\nto = [\"energy@plant.example\"]\n",
    );
    let site = SiteConfig::parse(&text, "demo-site.toml", &ProfileLibrary::builtin()).unwrap();
    let assets = Assets::from_site(&site, "demo-site.toml").unwrap();
    let dir = std::env::temp_dir().join(format!("kw-report-schedule-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("t.db");
    // 1 December 2026, 01:00 in Taipei.
    let now = Utc.with_ymd_and_hms(2026, 11, 30, 17, 0, 0).unwrap();
    let mut store = Store::open(&db).unwrap();
    // An empty store: no report of a month without data (it would only say so, and be mailed).
    let empty = {
        let s = Schedule {
            readers: Arc::new(Readers::open(&db, 1).unwrap()),
            writer: StoreWriter::spawn(Store::open(&db).unwrap()).unwrap(),
            assets: Arc::new(assets.clone()),
            review: Arc::new(ReviewSite::for_site(&site)),
            site_name: "Demo".into(),
            lang: crate::i18n::Language::TraditionalChinese,
            mail_channels: super::mail::email_channels(&site),
        };
        tick(&s, now).await.unwrap()
    };
    assert_eq!(empty, 0, "a report of a month without data");
    // Two days of November's history, its indicators computed.
    crate::backfill::backfill(
        &site,
        "demo-site.toml",
        &mut store,
        std::time::Duration::from_secs(2 * 86_400),
        now,
        false,
    )
    .unwrap();
    crate::enpi::refresh::refresh(&mut store, &assets, now.timestamp_millis()).unwrap();
    let writer = StoreWriter::spawn(store).unwrap();
    let s = Schedule {
        readers: Arc::new(Readers::open(&db, 1).unwrap()),
        writer: writer.clone(),
        assets: Arc::new(assets),
        review: Arc::new(ReviewSite::for_site(&site)),
        site_name: "Demo".into(),
        lang: crate::i18n::Language::TraditionalChinese,
        mail_channels: super::mail::email_channels(&site),
    };
    assert_eq!(tick(&s, now).await.unwrap(), 1);
    assert_eq!(tick(&s, now).await.unwrap(), 0, "already stored");
    let key = format!("report:1:{}", now.timestamp_millis());
    let (list, outbox) = writer
        .call(move |st| Ok((st.reports(10)?, st.notify_rows(&[key])?)))
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    let r = &list[0];
    assert_eq!(
        (
            r.kind.as_str(),
            r.period.as_str(),
            r.lang.as_str(),
            r.trigger.as_str()
        ),
        ("monthly", "2026-11", "zh-TW", "schedule")
    );
    // PDF where Chromium is installed, else HTML (the schedule never loses the report).
    assert!(r.format == "pdf" || r.format == "html", "{r:?}");
    let (_, body) = writer
        .call(move |st| Ok(st.report(1)?.unwrap()))
        .await
        .unwrap();
    assert!(body.len() > 1000);
    assert_eq!(outbox.len(), 1);
    assert_eq!(
        (outbox[0].kind.as_str(), outbox[0].channel.as_str()),
        ("report", "ops")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
