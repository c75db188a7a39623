//! Who this process is when it claims mail, and whether the holder of a claim on this
//! machine still runs: a pass takes over at once the claims of a process that is gone
//! instead of waiting for their lease to lapse.
//!
//! Only Linux is asked (`/proc`); elsewhere nobody is known to be gone and claims lapse
//! with their lease.

use crate::storage::ClaimHolder;

/// This process as a claim holder, under a fresh random claim id.
pub fn this_process() -> ClaimHolder {
    let pid = std::process::id();
    ClaimHolder {
        claim_id: uuid::Uuid::now_v7().simple().to_string(),
        host: host_name(),
        pid: Some(pid),
        process_start: process_start(pid),
    }
}

/// The name of this machine, when the system says.
pub fn host_name() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
}

/// Whether `holder`, a process on this machine, is known to be gone: no process has its
/// id, or the one that has it started at another time (the id was given again).
pub fn is_gone(holder: &ClaimHolder) -> bool {
    if !cfg!(target_os = "linux") {
        return false;
    }
    let Some(pid) = holder.pid else {
        return false;
    };
    if pid == std::process::id() {
        return false;
    }
    match process_start(pid) {
        None => !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        Some(started) => holder.process_start.is_some_and(|held| held != started),
    }
}

/// When process `pid` started, in clock ticks since boot (field 22 of
/// `/proc/<pid>/stat`); `None` when there is no such process or no `/proc`.
fn process_start(pid: u32) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    // After the name come the state (field 3) ... the start time (field 22).
    after_name.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn this_process_runs_a_finished_child_is_gone_and_so_is_a_reused_id() {
        let this = this_process();
        assert!(!is_gone(&this));
        assert!(this.process_start.is_some(), "{this:?}");
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("`true` runs");
        let child_pid = child.id();
        child.wait().expect("`true` ends");
        let finished = ClaimHolder {
            pid: Some(child_pid),
            process_start: None,
            ..this.clone()
        };
        assert!(is_gone(&finished));
        // The parent outlives this test; a holder with its id and another start time is a
        // process that had the id before.
        let parent = std::os::unix::process::parent_id();
        let running = ClaimHolder {
            pid: Some(parent),
            process_start: process_start(parent),
            ..this.clone()
        };
        assert!(!is_gone(&running));
        let reused = ClaimHolder {
            process_start: running.process_start.map(|start| start + 1),
            ..running
        };
        assert!(is_gone(&reused));
    }
}
