//! Who may use which route: the `Authorization: Bearer SECRET` of each request against the
//! tokens, and the role each route needs (`tollgate_api::routes` lists them).
//!
//! Without any token the API needs none, as on a machine of one's own. A secret that is sent
//! is always checked, also where no token is needed: an unknown or revoked one is a mistake
//! the client should hear about rather than a request that works until the route changes.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tollgate_api::{ApiError, Role, routes};

use crate::controller::Controller;
use crate::secret;
use crate::tokens::Known;

/// The token a request came with, for the handlers (`Extension<Caller>`): an agent's name,
/// who staged or revoked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Caller {
    pub name: String,
    pub role: Role,
}

/// The role a request needs, if any: reads are open unless the configuration says otherwise;
/// every other method is a write, and a write this table does not name needs an admin, so a
/// route added later is closed until someone decides.
pub(crate) fn needed(method: &Method, path: &str, read_needs_token: bool) -> Option<Role> {
    // A probe of health or readiness carries no secret; it learns nothing but that.
    let probe = path == super::health::HEALTHZ || path == super::health::READYZ;
    if probe && (method == Method::GET || method == Method::HEAD) {
        return None;
    }
    // The agents' own protocol, reads included: what an agent is given is for agents.
    if path.starts_with("/api/agent/") {
        return Some(Role::Agent);
    }
    // Who holds which token is for admins, even to read.
    if path == routes::TOKENS || path.starts_with("/api/tokens/") {
        return Some(Role::Admin);
    }
    // git's fetch posts what it wants, and reads the mirror: a read like any other.
    let fetch = path.starts_with("/api/git/") && path.ends_with("/git-upload-pack");
    if method == Method::GET || method == Method::HEAD || (fetch && method == Method::POST) {
        return read_needs_token.then_some(Role::Read);
    }
    let cancel = path
        .strip_prefix("/api/integrations/")
        .and_then(|rest| rest.strip_suffix("/cancel"))
        .is_some_and(|id| !id.is_empty() && !id.contains('/'));
    match path {
        routes::STAGE | routes::UNSTAGE => Some(Role::Stage),
        _ if cancel => Some(Role::Stage),
        _ => Some(Role::Admin),
    }
}

/// The middleware: a request goes on only with a token that allows its route, where one is
/// needed; the caller's token goes with it.
pub(crate) async fn check(
    State(controller): State<Arc<Controller>>,
    mut request: Request,
    next: Next,
) -> Response {
    let caller = match bearer(request.headers()) {
        None => None,
        Some(sent) => match controller.tokens.find(&secret::hash(sent)) {
            None => return invalid("the token sent is not known to this service".into()),
            Some(Known { name, revoked: true, .. }) => {
                return invalid(format!("the token `{name}` was revoked"));
            }
            Some(Known { name, role, .. }) => Some(Caller { name, role }),
        },
    };
    let path = request.uri().path();
    let needed = needed(request.method(), path, controller.config.read_needs_token);
    if let Some(needed) = needed
        && controller.tokens.configured()
    {
        let route = format!("{} {path}", request.method());
        match &caller {
            None => return missing(format!("{route} needs a token ({})", who_may(needed))),
            Some(caller) if !caller.role.allows(needed) => {
                return refuse(
                    StatusCode::FORBIDDEN,
                    format!(
                        "the token `{}` has role {}; {route} needs {}",
                        caller.name,
                        caller.role,
                        who_may(needed)
                    ),
                    None,
                );
            }
            Some(_) => {}
        }
    }
    if let Some(caller) = caller {
        request.extensions_mut().insert(caller);
    }
    next.run(request).await
}

/// The secret of `Authorization: Bearer SECRET`. Another scheme is not ours (a proxy's Basic
/// authentication passed on) and is left alone.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, secret) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| secret.trim())
}

fn who_may(needed: Role) -> String {
    match needed {
        Role::Admin => "role admin".to_owned(),
        Role::Read => "any role".to_owned(),
        role => format!("role {role} or admin"),
    }
}

fn missing(error: String) -> Response {
    refuse(StatusCode::UNAUTHORIZED, error, Some("Bearer realm=\"tollgate\""))
}

fn invalid(error: String) -> Response {
    let challenge = "Bearer realm=\"tollgate\", error=\"invalid_token\"";
    refuse(StatusCode::UNAUTHORIZED, error, Some(challenge))
}

fn refuse(status: StatusCode, error: String, challenge: Option<&'static str>) -> Response {
    let mut response = (status, Json(ApiError { error })).into_response();
    if let Some(challenge) = challenge {
        let value = header::HeaderValue::from_static(challenge);
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_needs_the_role_of_what_it_does() {
        let post = |path| needed(&Method::POST, path, false);
        assert_eq!(post("/api/stage"), Some(Role::Stage));
        assert_eq!(post("/api/unstage"), Some(Role::Stage));
        assert_eq!(post("/api/integrations/12/cancel"), Some(Role::Stage));
        assert_eq!(post("/api/projects"), Some(Role::Admin));
        assert_eq!(post("/api/tokens"), Some(Role::Admin));
        assert_eq!(post("/api/tokens/ci/revoke"), Some(Role::Admin));
        assert_eq!(post("/api/agents/builder-1/drain"), Some(Role::Admin));
        assert_eq!(post("/api/integrations/12/cancel/more"), Some(Role::Admin));
        assert_eq!(post("/api/something-new"), Some(Role::Admin), "closed until decided");
        assert_eq!(needed(&Method::DELETE, "/api/projects", false), Some(Role::Admin));
        assert_eq!(post("/api/agent/work"), Some(Role::Agent));
        assert_eq!(post("/api/git/demo/app/git-upload-pack"), None, "a fetch is a read");
        assert_eq!(
            needed(&Method::POST, "/api/git/demo/app/git-upload-pack", true),
            Some(Role::Read)
        );
        assert_eq!(post("/api/git/demo/app/git-receive-pack"), Some(Role::Admin));
        assert_eq!(needed(&Method::GET, "/api/agent/work", false), Some(Role::Agent));
    }

    #[test]
    fn reads_are_open_unless_configured_but_tokens_are_never() {
        for path in ["/", "/api/status", "/api/integrations/3", "/api/log", "/metrics"] {
            assert_eq!(needed(&Method::GET, path, false), None, "{path}");
            assert_eq!(needed(&Method::HEAD, path, true), Some(Role::Read), "{path}");
        }
        assert_eq!(needed(&Method::GET, "/api/tokens", false), Some(Role::Admin));
    }

    #[test]
    fn health_probes_need_no_token_even_where_reads_do() {
        for path in ["/healthz", "/readyz"] {
            assert_eq!(needed(&Method::GET, path, true), None, "{path}");
            assert_eq!(needed(&Method::HEAD, path, true), None, "{path}");
            assert_eq!(needed(&Method::POST, path, true), Some(Role::Admin), "{path}");
        }
        assert_eq!(needed(&Method::GET, "/metrics", true), Some(Role::Read));
        assert_eq!(needed(&Method::GET, "/metrics", false), None);
        assert_eq!(needed(&Method::GET, "/healthz/more", true), Some(Role::Read));
    }

    #[test]
    fn only_a_bearer_secret_is_taken() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            bearer(&headers).map(str::to_owned)
        };
        assert_eq!(with("Bearer tg_abc").as_deref(), Some("tg_abc"));
        assert_eq!(with("bearer  tg_abc ").as_deref(), Some("tg_abc"));
        assert_eq!(with("Basic dXNlcjpwdw=="), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }
}
