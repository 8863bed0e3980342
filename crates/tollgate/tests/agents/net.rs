//! A network made for one test, of one of two kinds:
//!
//! - **Namespaces** (as root, with `ip`): a bridge with the controller's address on this side,
//!   and one network namespace per agent, joined to the bridge by a veth pair. Addresses exist
//!   only on these links (10.213.K.0/24), so nothing leaves the machine; cutting an agent's
//!   link is taking its veth down. Dropped with the test.
//! - **Loopback**, where namespaces cannot be made (or `TOLLGATE_TEST_NET=loopback`): the
//!   controller on 127.0.0.1, each agent talking to it through a proxy of its own on
//!   127.0.0.(10+N), the agent's address; cutting its link is the proxy closing every
//!   connection and taking none until it is mended.
//!
//! Which one a test got is said on stderr.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub enum Net {
    Namespaces(Namespaces),
    Loopback(Loopback),
}

impl Net {
    pub fn new(agents: u32) -> Net {
        let forced = std::env::var("TOLLGATE_TEST_NET").is_ok_and(|kind| kind == "loopback");
        match unavailable() {
            None if !forced => {
                eprintln!("agents in network namespaces of their own");
                Net::Namespaces(Namespaces::new(agents))
            }
            why => {
                let why = why.unwrap_or_else(|| "TOLLGATE_TEST_NET=loopback".into());
                eprintln!("agents on 127.0.0.x addresses of their own, not namespaces: {why}");
                Net::Loopback(Loopback::new(agents))
            }
        }
    }

    /// Where the controller listens.
    pub fn controller(&self) -> String {
        match self {
            Net::Namespaces(net) => net.controller(),
            Net::Loopback(_) => "127.0.0.1".to_owned(),
        }
    }

    /// Once the controller listens at `server` (`http://ADDR:PORT`): the URL agent `n` uses.
    pub fn server_for(&self, agent: u32, server: &str) -> String {
        match self {
            Net::Namespaces(_) => server.to_owned(),
            Net::Loopback(net) => net.server_for(agent, server),
        }
    }

    /// The command that runs `program` as agent `n`'s machine.
    pub fn command(&self, agent: u32, program: &str, home: &std::path::Path) -> Command {
        match self {
            Net::Namespaces(net) => {
                let mut command = crate::site::isolated("ip", home);
                command.args(["netns", "exec", &net.namespace(agent), program]);
                command
            }
            Net::Loopback(_) => crate::site::isolated(program, home),
        }
    }

    /// Cuts the agent's link (`false`) or mends it (`true`).
    pub fn link(&self, agent: u32, up: bool) {
        match self {
            Net::Namespaces(net) => net.link(agent, up),
            Net::Loopback(net) => net.link(agent, up),
        }
    }
}

pub struct Namespaces {
    /// Which of the test networks this is: its bridge, namespaces and subnet are named by it.
    id: u32,
    slot: PathBuf,
    agents: u32,
}

/// Why namespaces cannot be made here: not root, no `ip`, or no right to (a container).
fn unavailable() -> Option<String> {
    if !is_root() {
        return Some("network namespaces need root".into());
    }
    let probe = format!("tgprobe{}", std::process::id());
    match Command::new("ip").args(["netns", "add", &probe]).output() {
        Err(_) => Some("`ip` (iproute2) is not installed".into()),
        Ok(output) if !output.status.success() => Some(format!(
            "`ip netns add` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )),
        Ok(_) => {
            let _ = Command::new("ip").args(["netns", "del", &probe]).output();
            None
        }
    }
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

impl Namespaces {
    /// A bridge and `agents` namespaces. The id is claimed by making a folder, which only one
    /// test can do: tests run at once, each in a process of its own.
    pub fn new(agents: u32) -> Namespaces {
        let claims = std::env::temp_dir().join("tollgate-test-nets");
        std::fs::create_dir_all(&claims).unwrap();
        let (id, slot) = (1..250)
            .find_map(|id| {
                let slot = claims.join(id.to_string());
                std::fs::create_dir(&slot).ok().map(|()| (id, slot))
            })
            .expect("a free test network");
        let net = Namespaces { id, slot, agents };
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

impl Drop for Namespaces {
    fn drop(&mut self) {
        self.remove();
        let _ = std::fs::remove_dir(&self.slot);
    }
}

/// One proxy per agent on 127.0.0.(10+N), to the controller, started once the controller's
/// port is known.
pub struct Loopback {
    proxies: Vec<Mutex<Option<Proxy>>>,
}

struct Proxy {
    address: SocketAddr,
    up: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Loopback {
    fn new(agents: u32) -> Loopback {
        Loopback { proxies: (0..agents).map(|_| Mutex::new(None)).collect() }
    }

    fn server_for(&self, agent: u32, server: &str) -> String {
        let target: SocketAddr = server.trim_start_matches("http://").parse().unwrap();
        let mut proxy = self.proxies[agent as usize - 1].lock().unwrap();
        let proxy = proxy.get_or_insert_with(|| Proxy::start(agent, target));
        format!("http://{}", proxy.address)
    }

    fn link(&self, agent: u32, up: bool) {
        let proxy = self.proxies[agent as usize - 1].lock().unwrap();
        let proxy = proxy.as_ref().expect("the agent was started");
        proxy.up.store(up, Ordering::SeqCst);
        if !up {
            for stream in proxy.open.lock().unwrap().drain(..) {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }
}

impl Proxy {
    fn start(agent: u32, target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind(format!("127.0.0.{}:0", 10 + agent)).unwrap();
        let address = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (is_up, streams) = (up.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(target) else { continue };
                if !is_up.load(Ordering::SeqCst) {
                    continue; // dropped: the link is cut
                }
                let mut open = streams.lock().unwrap();
                open.push(client.try_clone().unwrap());
                open.push(server.try_clone().unwrap());
                drop(open);
                for (from, to) in
                    [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)]
                {
                    std::thread::spawn(move || pipe(from, to));
                }
            }
        });
        Proxy { address, up, open }
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let mut buffer = [0u8; 16 << 10];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
