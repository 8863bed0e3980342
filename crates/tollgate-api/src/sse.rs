//! Reading server-sent events (`text/event-stream`, as `/api/events/stream` and
//! `/api/log/stream` answer) from bytes as they arrive: the client's side of the format.

/// One event: its name (`message` when it has none), its id, and its data lines joined by `\n`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    pub event: String,
    pub id: Option<String>,
    pub data: String,
}

/// Bytes in, whole events out.
#[derive(Default)]
pub struct SseParser {
    buffer: Vec<u8>,
}

impl SseParser {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next whole event received, comments and keep-alives skipped.
    pub fn next_event(&mut self) -> Option<SseEvent> {
        loop {
            let end = self.buffer.windows(2).position(|pair| pair == b"\n\n")?;
            let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
            let block = String::from_utf8_lossy(&block);
            let mut event = SseEvent { event: "message".into(), id: None, data: String::new() };
            let mut data = Vec::new();
            for line in block.lines() {
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "event" => event.event = value.to_owned(),
                    "id" => event.id = Some(value.to_owned()),
                    "data" => data.push(value),
                    _ => {}
                }
            }
            if data.is_empty() && event.id.is_none() {
                continue;
            }
            event.data = data.join("\n");
            return Some(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_come_whole_however_the_bytes_are_cut() {
        let text =
            ": keep-alive\n\nevent: staged\nid: 7\ndata: {\"seq\":7}\n\ndata: one\ndata: two\n\n";
        for cut in 0..text.len() {
            let mut parser = SseParser::default();
            let mut events = Vec::new();
            for part in [&text[..cut], &text[cut..]] {
                parser.push(part.as_bytes());
                events.extend(std::iter::from_fn(|| parser.next_event()));
            }
            assert_eq!(
                events,
                [
                    SseEvent {
                        event: "staged".into(),
                        id: Some("7".into()),
                        data: "{\"seq\":7}".into()
                    },
                    SseEvent { event: "message".into(), id: None, data: "one\ntwo".into() },
                ],
                "cut at {cut}"
            );
        }
    }
}
