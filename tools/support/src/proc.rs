//! Reading `/proc`: a process's CPU time and memory, and which process listens on a port.

/// Clock ticks per second of the `/proc/*/stat` CPU fields (USER_HZ, 100 on Linux).
pub const TICKS_PER_SEC: f64 = 100.0;

/// utime + stime of `pid`, in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat_cpu(&stat)
}

/// utime + stime, in seconds, from the text of a `/proc/*/stat` file.
pub fn parse_stat_cpu(stat: &str) -> Option<f64> {
    // Fields after the command name (which may hold spaces and parentheses) start after the last ')'.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 11 and 12 counting from `state` as 0.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SEC)
}

/// The command name of a `/proc/*/stat` text.
pub fn comm(stat: &str) -> Option<&str> {
    stat.get(stat.find('(')? + 1..stat.rfind(')')?)
}

/// A `/proc/<pid>/status` field in kB (`VmRSS`, `VmHWM`), as bytes.
pub fn status_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Resident memory of `pid` (`VmRSS`), in bytes.
pub fn rss(pid: u32) -> Option<u64> {
    status_bytes(pid, "VmRSS")
}

/// The PID of the process with a socket listening on 127.0.0.1:`port` (from /proc/net/tcp and /proc/*/fd).
pub fn listening_pid(port: u16) -> Option<u32> {
    let tcp = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let inode = tcp.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (_, p) = f.get(1)?.split_once(':')?;
        (u16::from_str_radix(p, 16).ok()? == port && *f.get(3)? == "0A").then(|| f.get(9).map(|s| s.to_string()))?
    })?;
    let target = format!("socket:[{inode}]");
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else { continue };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy() == target) {
                return Some(pid);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_cpu_is_read_after_the_command_name() {
        let line = "1234 (weco (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 100 0 0";
        assert_eq!(parse_stat_cpu(line), Some(3.0));
        assert_eq!(comm(line), Some("weco (x) y"));
    }

    #[test]
    fn this_process_has_memory_and_cpu_time() {
        let me = std::process::id();
        assert!(rss(me).is_some_and(|b| b > 0));
        assert!(cpu_seconds(me).is_some());
    }
}
