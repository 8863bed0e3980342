//! A work item's log: the file while it grows (followed with `follow=true` until the work item
//! ends), or the stored copy once the file is gone or the result was reused.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::io::AsyncReadExt;
use tollgate_api::WorkItemState;
use tollgate_core::plan::BuildKey;
use tollgate_state::LogSource;
use tollgate_store::Digest;

use crate::controller::Controller;
use crate::error::{ControllerError, blocking};

/// How often a followed log is looked at for more.
const FOLLOW_EVERY: Duration = Duration::from_millis(200);

#[derive(Deserialize)]
pub struct LogQuery {
    item: String,
    integration: Option<i64>,
    #[serde(default)]
    follow: bool,
}

pub async fn log(
    State(controller): State<Arc<Controller>>,
    Query(query): Query<LogQuery>,
) -> Result<Response, ControllerError> {
    let source = controller.db.log_of(query.integration, &query.item).await?.ok_or_else(|| {
        let within = query.integration.map_or(String::new(), |id| format!(" in integration {id}"));
        ControllerError::NotFound(format!("no work item `{}`{within}", query.item))
    })?;
    let file = match &source.path {
        Some(path) => tokio::fs::File::open(path).await.ok(),
        None => None,
    };
    let body = match (file, source.digest.clone()) {
        (Some(file), _) => {
            Body::from_stream(follow(controller, source, file, query.follow, query.item))
        }
        // Streamed like the file: a log may be hundreds of megabytes.
        (None, Some(digest)) => {
            let file = stored(&controller, &digest).await?;
            let heading = reused_heading(&controller, &source).await;
            let heading = futures_util::stream::iter(heading.map(|line| Ok(Bytes::from(line))));
            Body::from_stream(heading.chain(follow(controller, source, file, false, query.item)))
        }
        (None, None) => {
            Body::from(format!("{}: no log yet ({})\n", query.item, source.state.as_str()))
        }
    };
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response())
}

/// The first line of a reused work item's log: the log is that of the earlier run whose
/// result it reused, and says so.
async fn reused_heading(controller: &Controller, source: &LogSource) -> Option<String> {
    if source.state != WorkItemState::Reused {
        return None;
    }
    let key = BuildKey::from_hex(&source.build_key)?;
    let store = controller.runner.store().clone();
    let record = blocking(move || store.record(&key)).await.ok()?.ok().flatten();
    let run = match &record {
        Some(record) => format!(
            "of {}, run at {}",
            record.work_item,
            humantime::format_rfc3339_seconds(
                std::time::UNIX_EPOCH + Duration::from_millis(record.started_unix_ms)
            )
        ),
        None => "of an earlier run".to_owned(),
    };
    Some(format!(
        "tollgate: nothing ran: this work item reused the passed result with the same build key ({key}) {run}; the log below is that run's\n"
    ))
}

/// The log file's bytes as they come; with `follow`, until the work item has ended and the
/// file has nothing more.
fn follow(
    controller: Arc<Controller>,
    source: LogSource,
    file: tokio::fs::File,
    follow: bool,
    item: String,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    let state = Some((file, controller, source, item));
    futures_util::stream::unfold(state, move |state| async move {
        let (mut file, controller, source, item) = state?;
        let mut buffer = vec![0; 64 << 10];
        loop {
            match file.read(&mut buffer).await {
                Ok(0) => {}
                Ok(read) => {
                    buffer.truncate(read);
                    return Some((Ok(Bytes::from(buffer)), Some((file, controller, source, item))));
                }
                Err(error) => return Some((Err(error), None)),
            }
            if !follow {
                return None;
            }
            let state = controller.db.item_state(source.integration, &item).await;
            let running = matches!(state, Ok(Some(state)) if !state.is_final());
            if !running {
                // One more read: the last lines may have come with the end.
                match file.read(&mut buffer).await {
                    Ok(read) if read > 0 => {
                        buffer.truncate(read);
                        return Some((
                            Ok(Bytes::from(buffer)),
                            Some((file, controller, source, item)),
                        ));
                    }
                    _ => return None,
                }
            }
            tokio::time::sleep(FOLLOW_EVERY).await;
        }
    })
}

/// A stored log, fetched from the store into a scratch file that is open and already
/// unlinked, so that nothing is left behind however the response ends.
async fn stored(controller: &Controller, digest: &str) -> Result<tokio::fs::File, ControllerError> {
    let digest: Digest = digest
        .parse()
        .map_err(|_| ControllerError::System(format!("`{digest}` is not a digest")))?;
    let store = controller.runner.store().clone();
    let scratch = controller.config.data_dir.join("tmp");
    let file = blocking(move || {
        std::fs::create_dir_all(&scratch).map_err(|error| error.to_string())?;
        let folder = tempfile::tempdir_in(&scratch).map_err(|error| error.to_string())?;
        let path = folder.path().join("log");
        match store.fetch(&digest, &path) {
            Ok(true) => std::fs::File::open(&path).map_err(|error| error.to_string()),
            Ok(false) => Err(format!("the log {digest} is not in the store")),
            Err(error) => Err(error.to_string()),
        }
    })
    .await?
    .map_err(ControllerError::System)?;
    Ok(tokio::fs::File::from_std(file))
}
