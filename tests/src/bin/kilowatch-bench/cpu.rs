//! Where the CPU went during a measured window: the gateway, mosquitto, this benchmark itself
//! (publisher and HTTP clients) and everything else on the machine, in cores (CPU seconds per
//! second), from `/proc`. On a small shared machine the load generator competes with what it
//! measures; this says by how much.

use std::time::Instant;

/// CPU time used so far by the processes watched and by the whole machine.
pub struct CpuMark {
    at: Instant,
    /// utime + stime of each watched process, in clock ticks.
    procs: Vec<u64>,
    /// Busy ticks of all CPUs together (everything but idle and iowait).
    machine: u64,
}

/// Cores used on average between two marks.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuShare {
    pub gateway: f64,
    pub mosquitto: f64,
    pub bench: f64,
    /// The rest of the machine (other developers' builds, the kernel's own threads).
    pub others: f64,
}

/// `pids`: the gateway's, mosquitto's and this process's, in that order.
pub fn mark(pids: [u32; 3]) -> CpuMark {
    CpuMark {
        at: Instant::now(),
        procs: pids
            .iter()
            .map(|&p| process_ticks(p).unwrap_or(0))
            .collect(),
        machine: machine_ticks().unwrap_or(0),
    }
}

impl CpuMark {
    /// The cores each part used from `self` to `later`.
    pub fn share_until(&self, later: &CpuMark) -> CpuShare {
        let secs = later.at.duration_since(self.at).as_secs_f64().max(1e-3);
        let tick = ticks_per_second() * secs;
        let used = |k: usize| later.procs[k].saturating_sub(self.procs[k]) as f64 / tick;
        let (gateway, mosquitto, bench) = (used(0), used(1), used(2));
        let machine = later.machine.saturating_sub(self.machine) as f64 / tick;
        CpuShare {
            gateway,
            mosquitto,
            bench,
            others: (machine - gateway - mosquitto - bench).max(0.0),
        }
    }
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf takes no pointers.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// utime + stime of a process (all its threads), from `/proc/PID/stat`.
fn process_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Busy ticks of all CPUs from the first line of `/proc/stat`.
fn machine_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let busy: u64 = v.iter().take(8).sum::<u64>() - v.get(3)? - v.get(4)?;
    Some(busy)
}
