//! A full spool disk, for real: the agent's spool_dir is a 2 MB tmpfs the test fills with a
//! file. The agent must say so at once (metric, health message, one WARN naming the directory),
//! keep polling into its memory buffer, count the polls it drops once that is full, and when
//! the space comes back spool and publish everything it held, in order, without a seq gap.
//!
//! Mounting needs root; without it the test fails (it never passes without having run).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use kilowatch_e2e::{
    bin, free_port, get_text, scratch, start_sim, wait_for, Mosquitto, Proc, Received, Subscriber,
};

const INTERVAL_MS: i64 = 200;
const MEMORY_BUFFER: u64 = 25;

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "cannot mount a tmpfs at {} ({}): this test needs root (CI runs it as root)",
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Tmpfs(dir.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn metrics(port: u16) -> Option<BTreeMap<String, f64>> {
    let text = get_text(&format!("http://127.0.0.1:{port}/metrics")).ok()?;
    Some(
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (k, v) = l.rsplit_once(' ')?;
                Some((k.to_owned(), v.parse().ok()?))
            })
            .collect(),
    )
}

fn metric(port: u16, name: &str) -> Option<f64> {
    metrics(port)?.get(name).copied()
}

const POLLS: &str = "kilowatch_agent_polls_total{device=\"m00\"}";

/// The newest agent health message the subscriber saw.
fn last_health(messages: &[Received]) -> Option<serde_json::Value> {
    messages
        .iter()
        .rev()
        .find(|m| m.topic.ends_with("/health"))
        .and_then(|m| serde_json::from_slice(&m.payload).ok())
}

#[test]
fn full_spool_disk_is_reported_at_once_and_the_memory_buffer_is_spooled_when_space_returns() {
    let dir = scratch("spool-full");
    let spool_dir = dir.join("spool");
    let mq = Mosquitto::start(&dir);
    let (device, port) = (free_port(), free_port());
    let config = dir.join("site.toml");
    std::fs::write(
        &config,
        format!(
            "[site]\nid = \"sf\"\ntimezone = \"UTC\"\n\n[mqtt]\nbroker = \"127.0.0.1:{}\"\n\n\
             [agent]\nspool_dir = \"{}\"\nmemory_buffer = {MEMORY_BUFFER}\n\
             metrics = \"127.0.0.1:{port}\"\nhealth_interval = \"1s\"\n\n\
             [[devices]]\nid = \"m00\"\nprofile = \"eastron-sdm630\"\ntcp = \"127.0.0.1:{device}\"\n\
             interval = \"{INTERVAL_MS}ms\"\ntimeout = \"1s\"\n[devices.simulate]\nseed = 1\nstep = \"1s\"\n",
            mq.port,
            spool_dir.display()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let tmpfs = Tmpfs::mount(&spool_dir, "2m");
    let sim = start_sim(&dir, config, &[device]);
    let sub = Subscriber::start(mq.port, "spool-full-sub", "kilowatch/v1/sf/#");
    let mut agent = Proc::spawn(
        "agent",
        &bin("kilowatch-agent"),
        &["run", "--config", config],
        &dir,
    );
    assert!(
        wait_for(Duration::from_secs(20), || {
            (metric(port, "kilowatch_agent_published_total")? >= 5.0).then_some(())
        })
        .is_some(),
        "readings did not flow:\n{}",
        agent.log()
    );

    // Fill the tmpfs to the last page.
    let filler = spool_dir.join("filler");
    let dd = Command::new("dd")
        .arg("if=/dev/zero")
        .arg(format!("of={}", filler.display()))
        .arg("bs=4096")
        .output()
        .expect("run dd");
    assert!(
        String::from_utf8_lossy(&dd.stderr).contains("No space left"),
        "dd did not fill the tmpfs: {}",
        String::from_utf8_lossy(&dd.stderr)
    );

    // Reported within seconds (the last partly used page of the segment takes a few more).
    assert!(
        wait_for(Duration::from_secs(5), || {
            (metric(port, "kilowatch_agent_spool_disk_full")? == 1.0).then_some(())
        })
        .is_some(),
        "disk full not reported:\n{}",
        agent.log()
    );
    let polls_at_full = metric(port, POLLS).unwrap();
    let health = wait_for(Duration::from_secs(5), || {
        last_health(&sub.snapshot()).filter(|h| h["spool_writer"]["disk_full"] == true)
    })
    .expect("health message with spool_writer.disk_full");
    assert!(
        health["spool_writer"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("No space left")),
        "{health}"
    );

    // Polling goes on: the memory buffer fills, then polls are dropped and counted.
    let during = wait_for(Duration::from_secs(20), || {
        let m = metrics(port)?;
        (m.get("kilowatch_agent_polls_dropped_total")? >= &5.0).then_some(m)
    })
    .unwrap_or_else(|| panic!("no polls dropped:\n{}", agent.log()));
    assert_eq!(
        during["kilowatch_agent_memory_buffered_polls"],
        MEMORY_BUFFER as f64
    );
    assert!(
        during[POLLS] >= polls_at_full + MEMORY_BUFFER as f64,
        "polling stalled: {} polls, {polls_at_full} at disk full",
        during[POLLS]
    );
    let health = wait_for(Duration::from_secs(5), || {
        last_health(&sub.snapshot())
            .filter(|h| h["spool_writer"]["dropped"].as_u64().is_some_and(|d| d > 0))
    })
    .expect("health message counting dropped polls");
    assert_eq!(health["spool_writer"]["buffered"], MEMORY_BUFFER);

    // Space comes back.
    std::fs::remove_file(&filler).unwrap();
    assert!(
        wait_for(Duration::from_secs(10), || {
            let m = metrics(port)?;
            (m["kilowatch_agent_spool_disk_full"] == 0.0
                && m["kilowatch_agent_memory_buffered_polls"] == 0.0)
                .then_some(())
        })
        .is_some(),
        "the memory buffer was not spooled:\n{}",
        agent.log()
    );

    // Polls after the outage bound the hole the dropped ones left.
    let resumed = metric(port, "kilowatch_agent_spool_appended_total").unwrap();
    assert!(
        wait_for(Duration::from_secs(10), || {
            (metric(port, "kilowatch_agent_spool_appended_total")? >= resumed + 5.0).then_some(())
        })
        .is_some(),
        "polls did not resume after the outage:\n{}",
        agent.log()
    );

    // Stop the device so the counts settle, then account for every poll.
    drop(sim);
    let settled = wait_for(Duration::from_secs(20), || {
        let a = metrics(port)?;
        std::thread::sleep(Duration::from_millis(1500));
        let b = metrics(port)?;
        (a[POLLS] == b[POLLS]
            && b["kilowatch_agent_memory_buffered_polls"] == 0.0
            && b["kilowatch_agent_spooled_readings"] == 0.0)
            .then_some(b)
    })
    .unwrap_or_else(|| panic!("counts did not settle:\n{}", agent.log()));
    let (polls, appended, dropped) = (
        settled[POLLS] as u64,
        settled["kilowatch_agent_spool_appended_total"] as u64,
        settled["kilowatch_agent_polls_dropped_total"] as u64,
    );
    assert_eq!(polls, appended + dropped, "{settled:?}");

    // Every spooled poll arrived: seq 1..=appended, none missing, in poll-time order.
    let mut by_seq: BTreeMap<u64, i64> = BTreeMap::new();
    for m in sub.snapshot().iter().filter(|m| m.topic.ends_with("/data")) {
        let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
        let ts: chrono::DateTime<chrono::Utc> = v["ts"].as_str().unwrap().parse().unwrap();
        by_seq.insert(v["seq"].as_u64().unwrap(), ts.timestamp_millis());
    }
    let seqs: Vec<u64> = by_seq.keys().copied().collect();
    assert_eq!(seqs, (1..=appended).collect::<Vec<_>>(), "seq gaps");
    let ts: Vec<i64> = by_seq.values().copied().collect();
    assert!(ts.windows(2).all(|w| w[0] < w[1]), "out of poll order");
    // The dropped polls are the only hole in time: one missing slot per dropped poll (plus any
    // the scheduler itself reported missed).
    let missing_slots: i64 = ts
        .windows(2)
        .map(|w| ((w[1] - w[0]) as f64 / INTERVAL_MS as f64).round() as i64 - 1)
        .sum();
    let gaps: Vec<(usize, i64)> = ts
        .windows(2)
        .map(|w| w[1] - w[0])
        .enumerate()
        .filter(|(_, d)| *d > INTERVAL_MS * 3 / 2)
        .collect();
    let missed = settled
        .get("kilowatch_agent_missed_polls_total{device=\"m00\"}")
        .copied()
        .unwrap_or(0.0) as i64;
    assert!(
        (dropped as i64..=dropped as i64 + missed + 1).contains(&missing_slots),
        "{missing_slots} missing poll slots in time, {dropped} dropped, {missed} missed; gaps (index, ms): {gaps:?} of {} readings",
        ts.len()
    );

    // One line per episode, naming the directory and the OS error; one on recovery.
    let log = agent.log();
    let count = |s: &str| log.lines().filter(|l| l.contains(s)).count();
    assert_eq!(count("cannot write to the spool"), 1, "{log}");
    let warn = log
        .lines()
        .find(|l| l.contains("cannot write to the spool"))
        .unwrap();
    assert!(
        warn.contains("WARN")
            && warn.contains(&spool_dir.display().to_string())
            && warn.contains("No space left"),
        "{warn}"
    );
    assert_eq!(count("memory buffer full"), 1, "{log}");
    assert_eq!(count("spool writable again"), 1, "{log}");
    agent.kill9();
    drop(tmpfs);
    drop(mq);
}
