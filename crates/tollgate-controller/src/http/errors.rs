//! Every error the HTTP API answers is JSON (a page's is a page) (`{"error": "..."}`), those axum makes itself too:
//! a query string or body it cannot read, an unknown route, a method a route does not take.

use axum::Json;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tollgate_api::ApiError;

/// The most of a plain error body that is kept as its message.
const LONGEST_MESSAGE: usize = 16 << 10;

/// Turns an error answer that is not JSON into one that is, its text as the message.
pub async fn as_json(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || speaks_for_itself(&response) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, LONGEST_MESSAGE).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_owned(),
        Err(_) => String::new(),
    };
    let error = match text.is_empty() {
        true => status.canonical_reason().unwrap_or("error").to_lowercase(),
        false => text,
    };
    let mut answer = (status, Json(ApiError { error })).into_response();
    // What the route said besides (`Allow` for a 405, `WWW-Authenticate`) stays.
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            answer.headers_mut().insert(name.clone(), value.clone());
        }
    }
    answer
}

/// The answer for a path no route serves.
pub async fn unknown_route(method: Method, uri: Uri) -> (StatusCode, Json<ApiError>) {
    let path = uri.path();
    (StatusCode::NOT_FOUND, Json(ApiError { error: format!("no route {method} {path}") }))
}

/// JSON already, or a page's own error page.
fn speaks_for_itself(response: &Response<Body>) -> bool {
    response.headers().get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).is_some_and(
        |value| value.starts_with("application/json") || value.starts_with("text/html"),
    )
}
