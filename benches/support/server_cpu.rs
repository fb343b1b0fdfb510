//! CPU time the server side used: the in-process gateway's threads (TestStack names them
//! `pgrest-lite-test`) and the PostgreSQL backends connected to the benchmark's database (except
//! the one asking), read from /proc. Linux only; clock ticks of 1/100 s.
#![allow(dead_code)]

use std::collections::HashMap;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const TICKS_PER_S: f64 = 100.0;

/// utime + stime of a /proc stat file, in ticks.
fn ticks(stat_path: &str) -> Option<(String, u64)> {
    let s = std::fs::read_to_string(stat_path).ok()?;
    let (head, rest) = s.rsplit_once(')')?;
    let comm = head.split_once('(')?.1.to_string();
    let f: Vec<&str> = rest.split_whitespace().collect();
    // fields after the comm start at field 3 (state): utime is field 14, stime 15
    let ut: u64 = f.get(11)?.parse().ok()?;
    let st: u64 = f.get(12)?.parse().ok()?;
    Some((comm, ut + st))
}

/// One reading.
pub struct Sample {
    gateway: u64,
    backends: HashMap<i32, u64>,
}

/// CPU seconds between two readings.
pub struct Used {
    pub gateway_s: f64,
    pub database_s: f64,
}

pub async fn sample(db: &tokio_postgres::Client) -> Result<Sample, BoxError> {
    let mut gateway = 0;
    for t in std::fs::read_dir("/proc/self/task")? {
        let p = t?.path().join("stat");
        if let Some((comm, n)) = ticks(&p.to_string_lossy()) {
            if comm.starts_with("pgrest-lite") {
                gateway += n;
            }
        }
    }
    let pids: Vec<i32> = db
        .query(
            "select pid from pg_stat_activity
              where datname = current_database() and pid <> pg_backend_pid()",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let backends = pids
        .into_iter()
        .filter_map(|pid| ticks(&format!("/proc/{pid}/stat")).map(|(_, n)| (pid, n)))
        .collect();
    Ok(Sample { gateway, backends })
}

impl Sample {
    /// What was used since `before` (a backend that connected in between counts whole).
    pub fn since(&self, before: &Sample) -> Used {
        let db: u64 = self
            .backends
            .iter()
            .map(|(pid, n)| n.saturating_sub(before.backends.get(pid).copied().unwrap_or(0)))
            .sum();
        Used {
            gateway_s: self.gateway.saturating_sub(before.gateway) as f64 / TICKS_PER_S,
            database_s: db as f64 / TICKS_PER_S,
        }
    }
}

/// CPU seconds this process has used so far (all its threads: the gateway and the tills).
pub fn process_s() -> f64 {
    ticks("/proc/self/stat").map_or(0.0, |(_, n)| n as f64 / TICKS_PER_S)
}

/// CPU seconds the whole machine has been busy so far (every process, other builds included),
/// from the first line of /proc/stat: user, nice, system, irq, softirq, steal.
pub fn machine_busy_s() -> f64 {
    let Ok(s) = std::fs::read_to_string("/proc/stat") else {
        return 0.0;
    };
    let Some(line) = s.lines().next() else {
        return 0.0;
    };
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    [0usize, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|&i| f.get(i))
        .sum::<u64>() as f64
        / TICKS_PER_S
}
