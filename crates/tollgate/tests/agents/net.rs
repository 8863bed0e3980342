//! A network made for one test: a bridge with the controller's address on this side, and one
//! network namespace per agent, joined to the bridge by a veth pair. Addresses exist only on
//! these links (10.213.K.0/24), so nothing leaves the machine; cutting an agent's link is
//! taking its veth down. Made with `ip`, as root; dropped with the test.

use std::path::PathBuf;
use std::process::Command;

pub struct Net {
    /// Which of the test networks this is: its bridge, namespaces and subnet are named by it.
    id: u32,
    slot: PathBuf,
    agents: u32,
}

/// Why a network cannot be made here: not root, or no `ip`.
pub fn unavailable() -> Option<String> {
    if !is_root() {
        return Some("network namespaces need root".into());
    }
    if Command::new("ip").arg("-V").output().is_err() {
        return Some("`ip` (iproute2) is not installed".into());
    }
    None
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("Uid:"))?.to_owned();
            line.split_whitespace().nth(1).map(|uid| uid == "0")
        })
        .unwrap_or(false)
}

fn ip(args: &[&str]) {
    let output = Command::new("ip").args(args).output().expect("ip runs");
    assert!(
        output.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

impl Net {
    /// A bridge and `agents` namespaces. The id is claimed by making a folder, which only one
    /// test can do: tests run at once, each in a process of its own.
    pub fn new(agents: u32) -> Net {
        let claims = std::env::temp_dir().join("tollgate-test-nets");
        std::fs::create_dir_all(&claims).unwrap();
        let (id, slot) = (1..250)
            .find_map(|id| {
                let slot = claims.join(id.to_string());
                std::fs::create_dir(&slot).ok().map(|()| (id, slot))
            })
            .expect("a free test network");
        let net = Net { id, slot, agents };
        // Left over by a test that was killed: removed before they are made again.
        net.remove();
        let bridge = net.bridge();
        ip(&["link", "add", &bridge, "type", "bridge"]);
        ip(&["addr", "add", &format!("{}/24", net.controller()), "dev", &bridge]);
        ip(&["link", "set", &bridge, "up"]);
        for agent in 1..=agents {
            let (ns, host, peer) = (net.namespace(agent), net.host_end(agent), net.peer(agent));
            ip(&["netns", "add", &ns]);
            ip(&["link", "add", &host, "type", "veth", "peer", "name", &peer]);
            ip(&["link", "set", &peer, "netns", &ns]);
            ip(&["link", "set", &host, "master", &bridge, "up"]);
            let address = format!("10.213.{id}.{}/24", 10 + agent);
            ip(&["-n", &ns, "addr", "add", &address, "dev", &peer]);
            ip(&["-n", &ns, "link", "set", &peer, "up"]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
        }
        net
    }

    /// The controller's address, on the bridge.
    pub fn controller(&self) -> String {
        format!("10.213.{}.1", self.id)
    }

    pub fn namespace(&self, agent: u32) -> String {
        format!("tg{}a{agent}", self.id)
    }

    fn bridge(&self) -> String {
        format!("tg{}br", self.id)
    }

    fn host_end(&self, agent: u32) -> String {
        format!("tg{}h{agent}", self.id)
    }

    fn peer(&self, agent: u32) -> String {
        format!("tg{}p{agent}", self.id)
    }

    /// Cuts the agent's link (`false`) or mends it (`true`).
    pub fn link(&self, agent: u32, up: bool) {
        ip(&["link", "set", &self.host_end(agent), if up { "up" } else { "down" }]);
    }

    fn remove(&self) {
        for agent in 1..=self.agents.max(3) {
            let _ = Command::new("ip").args(["netns", "del", &self.namespace(agent)]).output();
            let _ = Command::new("ip").args(["link", "del", &self.host_end(agent)]).output();
        }
        let _ = Command::new("ip").args(["link", "del", &self.bridge()]).output();
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        self.remove();
        let _ = std::fs::remove_dir(&self.slot);
    }
}
