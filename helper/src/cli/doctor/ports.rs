//! Who holds a TCP port: a bind attempt says whether it is free; on Linux, `/proc/net/tcp`
//! (and `tcp6`) name the listening socket's inode and `/proc/<pid>/fd` the process that
//! holds it. Only a process's program name is read, never its command line (it may hold a
//! secret).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpListener};
use std::path::Path;

/// A listening socket from `/proc/net/tcp{,6}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub ip: IpAddr,
    pub port: u16,
    pub inode: u64,
}

/// A process holding a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    /// Its program's file name (`/proc/<pid>/exe`), else its `comm`.
    pub name: String,
}

impl Holder {
    pub fn is_patchbay(&self) -> bool {
        self.name == "patchbay"
    }
}

/// The sockets in LISTEN state (`st` = `0A`) of a `/proc/net/tcp` or `tcp6` table.
pub fn parse_listeners(table: &str) -> Vec<Listener> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.get(3) != Some(&"0A") {
                return None;
            }
            let (ip, port) = parse_address(fields.get(1)?)?;
            Some(Listener {
                ip,
                port,
                inode: fields.get(9)?.parse().ok()?,
            })
        })
        .collect()
}

/// `0100007F:1E96` (IPv4) or 32 hex digits (IPv6), each 32-bit word in host (little-endian)
/// order, then the port in hex.
fn parse_address(field: &str) -> Option<(IpAddr, u16)> {
    let (ip, port) = field.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let words = |hex: &str| -> Option<Vec<[u8; 4]>> {
        (0..hex.len() / 8)
            .map(|i| {
                let word = u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16).ok()?;
                Some(word.to_le_bytes())
            })
            .collect()
    };
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(words(ip)?[0])),
        32 => {
            let bytes: Vec<u8> = words(ip)?.concat();
            IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?))
        }
        _ => return None,
    };
    Some((ip, port))
}

/// Whether a listener on `ip` keeps a bind of 127.0.0.1 on the same port from succeeding.
pub fn blocks_loopback(ip: IpAddr) -> bool {
    let v4 = match ip {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(v6) if v6.is_unspecified() => return true,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4,
            None => return false,
        },
    };
    v4 == Ipv4Addr::LOCALHOST || v4.is_unspecified()
}

/// The inode of a `/proc/<pid>/fd/<n>` link target `socket:[12345]`.
pub fn socket_inode(link_target: &str) -> Option<u64> {
    link_target
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Whether 127.0.0.1:`port` can be bound now (the test that counts; `/proc` only names
/// who is there).
pub fn is_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// The processes listening on `port` where it blocks 127.0.0.1 (empty where `/proc` is
/// missing or their descriptors are another user's).
pub fn holders(port: u16) -> Vec<Holder> {
    let proc_root = Path::new("/proc");
    let inodes: Vec<u64> = ["net/tcp", "net/tcp6"]
        .iter()
        .filter_map(|t| std::fs::read_to_string(proc_root.join(t)).ok())
        .flat_map(|table| parse_listeners(&table))
        .filter(|l| l.port == port && blocks_loopback(l.ip))
        .map(|l| l.inode)
        .collect();
    if inodes.is_empty() {
        return Vec::new();
    }
    let Ok(procs) = std::fs::read_dir(proc_root) else {
        return Vec::new();
    };
    let mut holders = Vec::new();
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path())
                .ok()
                .and_then(|t| socket_inode(&t.to_string_lossy()))
                .is_some_and(|inode| inodes.contains(&inode))
        });
        if holds {
            holders.push(Holder {
                pid,
                name: program_name(&entry.path()),
            });
        }
    }
    holders
}

fn program_name(proc_dir: &Path) -> String {
    let from_exe = std::fs::read_link(proc_dir.join("exe")).ok().and_then(|p| {
        let name = p.file_name()?.to_string_lossy().into_owned();
        Some(name.trim_end_matches(" (deleted)").to_owned())
    });
    from_exe
        .or_else(|| {
            std::fs::read_to_string(proc_dir.join("comm"))
                .ok()
                .map(|c| c.trim().to_owned())
        })
        .unwrap_or_else(|| "?".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1E96 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 00000000:D1F2 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 77 1 0000000000000000 100 0 0 10 0
   2: 0100007F:1E96 0100007F:A2B4 01 00000000:00000000 00:00000000 00000000     0        0 0 1 0000000000000000 20 4 30 10 -1
";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:D1F2 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 100 1 0000000000000000 100 0 0 10 0
";

    #[test]
    fn listening_sockets_are_read_from_the_tables() {
        assert_eq!(
            parse_listeners(TCP),
            [
                Listener {
                    ip: "127.0.0.1".parse().unwrap(),
                    port: 7830,
                    inode: 4242
                },
                Listener {
                    ip: "0.0.0.0".parse().unwrap(),
                    port: 53746,
                    inode: 77
                },
            ],
            "the connected socket (st 01) is not a listener"
        );
        let v6 = parse_listeners(TCP6);
        assert_eq!(v6[0].ip, "::1".parse::<IpAddr>().unwrap());
        assert_eq!(v6[0].port, 53746);
        assert_eq!(v6[1].ip, "::ffff:127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(v6[1].port, 8080);
    }

    #[test]
    fn which_listeners_block_a_loopback_bind() {
        for (ip, blocks) in [
            ("127.0.0.1", true),
            ("0.0.0.0", true),
            ("::", true),
            ("::ffff:127.0.0.1", true),
            ("::1", false),
            ("127.0.0.2", false),
            ("192.168.1.5", false),
        ] {
            assert_eq!(blocks_loopback(ip.parse().unwrap()), blocks, "{ip}");
        }
    }

    #[test]
    fn socket_links_name_their_inode() {
        assert_eq!(socket_inode("socket:[4242]"), Some(4242));
        assert_eq!(socket_inode("pipe:[4242]"), None);
        assert_eq!(socket_inode("/dev/null"), None);
    }

    #[test]
    fn a_port_held_here_is_found_with_its_holder() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(!is_free(port));
        let holders = holders(port);
        assert!(
            holders.iter().any(|h| h.pid == std::process::id()),
            "{holders:?}"
        );
        drop(listener);
        assert!(is_free(port));
    }
}
