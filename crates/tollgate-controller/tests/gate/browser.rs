//! A headless Chromium driven over WebDriver (W3C, through Debian's `chromedriver`): a small
//! client of the protocol's JSON over HTTP, enough to open pages, read them, and take
//! screenshots. `scripts/test` installs `chromium` and `chromium-driver` when missing.
//!
//! With `TOLLGATE_SCREENSHOTS=DIR`, every `shot` is saved there as a PNG, to look at.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::within;

/// The key under which WebDriver names an element.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    driver: Child,
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT/session/ID`.
    session: String,
}

impl Browser {
    /// A fresh browser; with `javascript` false, one that runs no script of a page.
    pub async fn start(javascript: bool) -> Browser {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("chromedriver: {error}; install chromium and chromium-driver (scripts/test does)")
            });
        let http = reqwest::Client::new();
        let root = format!("http://127.0.0.1:{port}");
        within(|| async {
            let answer = http.get(format!("{root}/status")).send().await.ok()?;
            let status: Value = answer.json().await.ok()?;
            (status["value"]["ready"] == true).then_some(())
        })
        .await;
        let mut options = json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1000", "--hide-scrollbars"],
        });
        if !javascript {
            options["prefs"] = json!({ "profile.managed_default_content_settings.javascript": 2 });
        }
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome", "goog:chromeOptions": options,
        } } });
        let mut browser = Browser { driver, http, session: String::new() };
        let created = browser.call("POST", &format!("{root}/session"), capabilities).await;
        let id = created["sessionId"].as_str().expect("a session id").to_owned();
        browser.session = format!("{root}/session/{id}");
        browser
    }

    pub async fn open(&self, url: &str) {
        self.command("POST", "/url", json!({ "url": url })).await;
    }

    pub async fn url(&self) -> String {
        self.command("GET", "/url", Value::Null).await.as_str().unwrap().to_owned()
    }

    /// The first element that matches a CSS selector, if one does now.
    pub async fn find(&self, css: &str) -> Option<String> {
        let found = self.elements(css).await;
        found.into_iter().next()
    }

    /// Every element that matches a CSS selector now.
    pub async fn elements(&self, css: &str) -> Vec<String> {
        let query = json!({ "using": "css selector", "value": css });
        let found = self.command("POST", "/elements", query).await;
        let found = found.as_array().cloned().unwrap_or_default();
        found.iter().map(|element| element[ELEMENT].as_str().unwrap().to_owned()).collect()
    }

    /// The text of the first element that matches, as the page shows it; empty when none does.
    /// Found again when the page swapped it between the find and the read (a live page).
    pub async fn text(&self, css: &str) -> String {
        loop {
            let Some(element) = self.find(css).await else { return String::new() };
            let url = format!("{}/element/{element}/text", self.session);
            match self.try_call("GET", &url, Value::Null).await {
                Ok(text) => return text.as_str().unwrap_or_default().to_owned(),
                Err(error) if error["error"] == "stale element reference" => continue,
                Err(error) => panic!("WebDriver GET {url}: {error}"),
            }
        }
    }

    pub async fn text_of(&self, element: &str) -> String {
        let text = self.command("GET", &format!("/element/{element}/text"), Value::Null).await;
        text.as_str().unwrap_or_default().to_owned()
    }

    /// The texts of every element that matches.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let mut texts = Vec::new();
        for element in self.elements(css).await {
            texts.push(self.text_of(&element).await);
        }
        texts
    }

    pub async fn attribute(&self, css: &str, name: &str) -> Option<String> {
        let element = self.find(css).await?;
        let path = format!("/element/{element}/attribute/{name}");
        self.command("GET", &path, Value::Null).await.as_str().map(str::to_owned)
    }

    /// A property of the first element that matches: a link's `href` resolved, for one.
    pub async fn property(&self, css: &str, name: &str) -> Option<String> {
        let element = self.find(css).await?;
        let path = format!("/element/{element}/property/{name}");
        self.command("GET", &path, Value::Null).await.as_str().map(str::to_owned)
    }

    pub async fn click(&self, css: &str) {
        let element = self.find(css).await.unwrap_or_else(|| panic!("nothing matches {css}"));
        self.command("POST", &format!("/element/{element}/click"), json!({})).await;
    }

    /// Runs a script in the page; its `return` value.
    pub async fn script(&self, script: &str) -> Value {
        self.command("POST", "/execute/sync", json!({ "script": script, "args": [] })).await
    }

    /// Waits until the text of the first element that matches satisfies `check`, or fails the
    /// test at the deadline; each text it shows meanwhile goes to stderr, so that a failure
    /// names what it saw last.
    pub async fn wait_text(&self, css: &str, check: impl Fn(&str) -> bool) -> String {
        let seen = std::cell::RefCell::new(None::<String>);
        within(|| async {
            let text = self.text(css).await;
            if check(&text) {
                return Some(text);
            }
            if seen.borrow().as_ref() != Some(&text) {
                eprintln!("`{css}` shows {text:?}");
                *seen.borrow_mut() = Some(text);
            }
            None
        })
        .await
    }

    /// Saves a screenshot as `NAME.png` when `TOLLGATE_SCREENSHOTS` names a folder.
    pub async fn shot(&self, name: &str) {
        let Some(folder) = std::env::var_os("TOLLGATE_SCREENSHOTS") else { return };
        let png = self.command("GET", "/screenshot", Value::Null).await;
        let png = decode_base64(png.as_str().expect("a screenshot"));
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(std::path::Path::new(&folder).join(format!("{name}.png")), png).unwrap();
    }

    async fn command(&self, method: &str, path: &str, body: Value) -> Value {
        self.call(method, &format!("{}{path}", self.session), body).await
    }

    async fn call(&self, method: &str, url: &str, body: Value) -> Value {
        let answer = self.try_call(method, url, body).await;
        answer.unwrap_or_else(|error| panic!("WebDriver {method} {url}: {error}"))
    }

    /// A command's value, or the error WebDriver answered with.
    async fn try_call(&self, method: &str, url: &str, body: Value) -> Result<Value, Value> {
        let request = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body),
        };
        let answer = request.send().await.unwrap_or_else(|error| panic!("{method} {url}: {error}"));
        let status = answer.status();
        let value: Value = answer.json().await.unwrap_or_default();
        match status.is_success() {
            true => Ok(value["value"].clone()),
            false => Err(value["value"].clone()),
        }
    }
}

impl Drop for Browser {
    /// Ends the session, which closes the browser, then stops the driver. Plain blocking HTTP:
    /// a drop cannot wait for a future.
    fn drop(&mut self) {
        use std::io::{Read, Write};
        if let Some((host, path)) =
            self.session.strip_prefix("http://").and_then(|rest| rest.split_once('/'))
            && let Ok(mut stream) = std::net::TcpStream::connect(host)
        {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let request = format!(
                "DELETE /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            if stream.write_all(request.as_bytes()).is_ok() {
                let _ = stream.read_to_end(&mut Vec::new());
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Standard base64, as WebDriver sends screenshots.
fn decode_base64(text: &str) -> Vec<u8> {
    let value = |byte: u8| match byte {
        b'A'..=b'Z' => byte - b'A',
        b'a'..=b'z' => byte - b'a' + 26,
        b'0'..=b'9' => byte - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {byte}"),
    };
    let digits: Vec<u8> = text.bytes().filter(|b| *b != b'=' && !b.is_ascii_whitespace()).collect();
    let mut bytes = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut word = 0u32;
        for (i, digit) in chunk.iter().enumerate() {
            word |= u32::from(value(*digit)) << (18 - 6 * i);
        }
        bytes.extend_from_slice(&word.to_be_bytes()[1..chunk.len()]);
    }
    bytes
}
