//! An integration's phases as an SVG: when it was formed and planned, each work item queued →
//! started → ended (on which agent, run or reused), the gate's decision and the push.

use maud::{Markup, html};
use tollgate_api::{EventView, IntegrationView, WorkItemState, WorkItemView};

use super::parts::took;

const WIDTH: f64 = 1000.0;
/// Where the bars start: the work items' names are to the left.
const LEFT: f64 = 300.0;
const RIGHT: f64 = 16.0;
const HEAD: f64 = 38.0;
const ROW: f64 = 20.0;

/// The phases of the integration as the decision log dated them.
const MARKS: [(&str, &str); 4] = [
    ("planned", "planned"),
    ("gate_decided", "gate"),
    ("pushed", "pushed"),
    ("integration_finished", "ended"),
];

pub(super) fn timeline(view: &IntegrationView, events: &[EventView], now: i64) -> Markup {
    let start = view.created_at;
    let end = view.finished_at.unwrap_or(now).max(start + 1);
    let scale = Scale { start, span: (end - start) as f64 };
    let at = |kind: &str| events.iter().find(|event| event.kind == kind).map(|event| event.at);
    let planned = at("planned").unwrap_or(start);
    let marks: Vec<(&str, i64)> =
        MARKS.iter().filter_map(|(kind, name)| Some((*name, at(kind)?))).collect();
    let height = HEAD + ROW * view.work_items.len().max(1) as f64 + 24.0;
    let bottom = height - 20.0;
    html! {
        svg.timeline xmlns="http://www.w3.org/2000/svg" role="img"
            viewBox={ "0 0 " (WIDTH) " " (height) }
            aria-label={ "Timeline of integration " (view.id) } {
            @for quarter in 0..=4 {
                @let x = LEFT + (WIDTH - LEFT - RIGHT) * f64::from(quarter) / 4.0;
                line.grid x1=(x) x2=(x) y1=(HEAD - 6.0) y2=(bottom) {}
                @let anchor = match quarter { 0 => "start", 4 => "end", _ => "middle" };
                text.axis x=(x) y=(height - 6.0) text-anchor=(anchor) {
                    "+" (took((scale.span * f64::from(quarter) / 4.0) as i64))
                }
            }
            text x="4" y="14" { "formed" }
            @for (name, x, y) in labels(&marks, &scale) {
                line.mark x1=(x) x2=(x) y1=(y + 4.0) y2=(bottom) {}
                text x=(x) y=(y) text-anchor="middle" { (name) }
            }
            @for (row, item) in view.work_items.iter().enumerate() {
                @let y = HEAD + ROW * row as f64;
                (item_row(item, y, planned, now, &scale))
            }
            @if view.work_items.is_empty() {
                text.axis x=(LEFT) y=(HEAD + 14.0) { "no work items yet" }
            }
        }
    }
}

/// Where each mark's name goes: on the line below the previous one's when they would touch.
fn labels<'a>(marks: &[(&'a str, i64)], scale: &Scale) -> Vec<(&'a str, f64, f64)> {
    let mut placed: Vec<(&str, f64, f64)> = Vec::new();
    for (name, moment) in marks {
        let x = scale.x(*moment).min(WIDTH - 24.0);
        let crowded = placed.last().is_some_and(|(_, last, y)| x - last < 48.0 && *y < 20.0);
        placed.push((name, x, if crowded { 26.0 } else { 12.0 }));
    }
    placed
}

/// Where a moment is on the x axis.
struct Scale {
    start: i64,
    span: f64,
}

impl Scale {
    fn x(&self, moment: i64) -> f64 {
        let share = ((moment - self.start) as f64 / self.span).clamp(0.0, 1.0);
        LEFT + (WIDTH - LEFT - RIGHT) * share
    }
}

/// One work item: a grey bar while it waited, a coloured one while it ran, a tick when it was
/// reused without running.
fn item_row(item: &WorkItemView, y: f64, planned: i64, now: i64, scale: &Scale) -> Markup {
    let state = item.state.as_str();
    let name = shorten(&item.id, 46);
    let waited_until = item.started_at.or(item.finished_at).unwrap_or(now);
    let ran = item.started_at.map(|start| (start, item.finished_at.unwrap_or(now)));
    let agent = item.agent.as_deref().unwrap_or("this machine");
    let tip = match (item.state, ran) {
        (WorkItemState::Reused, _) => format!("{}: reused, nothing ran", item.id),
        (_, Some((start, end))) => {
            format!("{}: {state} on {agent}, ran {}", item.id, took(end - start))
        }
        _ => format!("{}: {state}", item.id),
    };
    html! {
        g.row data-item=(item.id) {
            title { (tip) }
            text x="4" y=(y + 14.0) { (name) }
            @if waited_until > planned {
                rect.queued x=(scale.x(planned)) y=(y + 5.0) height=(ROW - 10.0)
                    width=(bar(scale.x(planned), scale.x(waited_until))) {}
            }
            @if let Some((start, end)) = ran {
                rect.(state) x=(scale.x(start)) y=(y + 3.0) height=(ROW - 6.0) rx="2"
                    width=(bar(scale.x(start), scale.x(end))) {}
            } @else if item.state == WorkItemState::Reused {
                @let x = scale.x(item.finished_at.unwrap_or(planned));
                path.reused d={ "M" (x) " " (y + 3.0) " l6 7 l-6 7 l-6 -7 z" } {}
            }
        }
    }
}

/// A bar's width, at least a pixel and a half so that a short run is seen.
fn bar(from: f64, to: f64) -> f64 {
    (to - from).max(1.5)
}

/// A name cut to `most` characters, the end kept: `…app:linux:Build`.
fn shorten(name: &str, most: usize) -> String {
    let chars: Vec<char> = name.chars().collect();
    match chars.len() > most {
        true => format!("…{}", chars[chars.len() - most + 1..].iter().collect::<String>()),
        false => name.to_owned(),
    }
}
