//! An agent's log as it reaches the controller: pieces sent back to back, each answered with
//! the length the log has then, make the whole log, byte for byte, with no gap.

use tollgate_api::{AgentHello, AgentInfo, AgentPoll, AgentPolled, routes};

use crate::support::{Gate, Setup};

const AGENT: &str = "builder-1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pieces_of_an_agents_log_sent_back_to_back_make_the_whole_log() {
    let gate = Gate::start(Setup { local_slots: Some(0), ..Setup::default() }).await;
    let http = reqwest::Client::new();
    let info = AgentInfo {
        name: AGENT.into(),
        os: "linux".into(),
        slots: 1,
        templates: vec!["qtci-linux-Debian-12-x86_64-1".into()],
        ..AgentInfo::default()
    };
    let hello = AgentHello { info, running: vec![] };
    let registered = http.post(gate.url(routes::AGENT_REGISTER)).json(&hello).send().await;
    assert!(registered.unwrap().status().is_success());
    let commit = gate.commit("demo/app", "origin/main", &[("a.txt", "a\n")], "A change");
    gate.stage(&[&commit]).await;
    // demo/lib's Build comes first: the one work item that can run yet.
    let offer = loop {
        let poll =
            AgentPoll { name: AGENT.into(), running: vec![], wait_ms: 10_000, draining: false };
        let polled = http.post(gate.url(routes::AGENT_POLL)).json(&poll).send().await.unwrap();
        let polled: AgentPolled = polled.json().await.unwrap();
        if let Some(offer) = polled.offer {
            break offer;
        }
    };

    // Busy cores, as a machine running work items has: a write the controller has not
    // finished when it answers shows as a gap before the next piece.
    let busy = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let spinners: Vec<_> = (0..4)
        .map(|_| {
            let busy = busy.clone();
            std::thread::spawn(move || {
                while busy.load(std::sync::atomic::Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        })
        .collect();
    let mut sent = Vec::new();
    let mut last = Vec::new();
    for n in 0..300u32 {
        let piece: Vec<u8> = format!("line {n:>6} {}\n", "x".repeat(1000)).repeat(256).into_bytes();
        let path = routes::agent_log(offer.lease, AGENT, sent.len() as u64, false);
        let answer = http.post(gate.url(&path)).body(piece.clone()).send().await.unwrap();
        let status = answer.status();
        let text = answer.text().await.unwrap();
        assert!(status.is_success(), "piece {n}: {status} {text}");
        sent.extend_from_slice(&piece);
        assert_eq!(text.trim(), sent.len().to_string(), "piece {n}");
        last = piece;
    }
    busy.store(false, std::sync::atomic::Ordering::Relaxed);
    spinners.into_iter().for_each(|spinner| spinner.join().unwrap());
    // A piece sent again (its answer lost) is not written twice.
    let again = routes::agent_log(offer.lease, AGENT, (sent.len() - last.len()) as u64, false);
    let answer = http.post(gate.url(&again)).body(last).send().await.unwrap();
    assert_eq!(answer.text().await.unwrap().trim(), sent.len().to_string());

    let log = routes::log(offer.integration, &offer.work_item);
    let got = http.get(gate.url(&log)).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(got.len(), sent.len());
    assert!(got[..] == sent[..], "the log at the controller is what was sent");
    gate.stop().await;
}
