//! The four TechEmpower database tests as axum routes over a [`Stack`], and
//! `/queries-pipelined` on the stacks whose driver pipelines.

use std::net::SocketAddr;

use axum::{
    Json, Router,
    extract::{Query, State},
    http::StatusCode,
    response::{Html, IntoResponse, Response},
    routing::get,
};
use serde::Deserialize;

use crate::{
    sql::{self, Fortune},
    stacks::{Stack, StackError},
};

/// TechEmpower's bounds on `q`.
const MAX_QUERIES: usize = 500;

#[derive(Debug, Deserialize)]
struct Queries {
    q: Option<String>,
}

impl Queries {
    /// `q` as TechEmpower reads it: missing or not a number is 1, then clamped to 1..=500.
    fn count(&self) -> usize {
        self.q
            .as_deref()
            .and_then(|q| q.parse::<usize>().ok())
            .unwrap_or(1)
            .clamp(1, MAX_QUERIES)
    }

    fn random_ids(&self) -> Vec<i32> {
        (0..self.count()).map(|_| sql::random_id()).collect()
    }
}

/// A failed request: 500 with the error's text (the bench counts non-2xx answers).
struct Failure(StackError);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        // On the bench's stderr: a failed request must say why, not only count as one.
        eprintln!("tfb service: request failed: {}", self.0);
        (StatusCode::INTERNAL_SERVER_ERROR, self.0.to_string()).into_response()
    }
}

impl From<StackError> for Failure {
    fn from(error: StackError) -> Self {
        Failure(error)
    }
}

async fn db(State(stack): State<Stack>) -> Result<Response, Failure> {
    Ok(Json(stack.world(sql::random_id()).await?).into_response())
}

async fn queries(
    State(stack): State<Stack>,
    Query(q): Query<Queries>,
) -> Result<Response, Failure> {
    Ok(Json(stack.worlds(&q.random_ids()).await?).into_response())
}

/// `/queries` with the queries pipelined on the one connection.
async fn queries_pipelined(
    State(stack): State<Stack>,
    Query(q): Query<Queries>,
) -> Result<Response, Failure> {
    Ok(Json(stack.worlds_pipelined(&q.random_ids()).await?).into_response())
}

async fn updates(
    State(stack): State<Stack>,
    Query(q): Query<Queries>,
) -> Result<Response, Failure> {
    Ok(Json(stack.update_worlds(&q.random_ids()).await?).into_response())
}

async fn fortunes(State(stack): State<Stack>) -> Result<Response, Failure> {
    let mut rows = stack.fortunes().await?;
    rows.push(Fortune {
        id: 0,
        message: "Additional fortune added at request time.".to_owned(),
    });
    rows.sort_by(|a, b| a.message.cmp(&b.message));
    Ok(Html(render_fortunes(&rows)).into_response())
}

/// TechEmpower's fortunes page, every message HTML-escaped.
pub(crate) fn render_fortunes(rows: &[Fortune]) -> String {
    let mut html = String::with_capacity(2048);
    html.push_str(
        "<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>\
         <tr><th>id</th><th>message</th></tr>",
    );
    for row in rows {
        html.push_str("<tr><td>");
        html.push_str(&row.id.to_string());
        html.push_str("</td><td>");
        escape_into(&mut html, &row.message);
        html.push_str("</td></tr>");
    }
    html.push_str("</table></body></html>");
    html
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
}

/// Serves `stack` on `listen` until the process is killed; prints `listening on
/// http://ADDR` once bound.
pub(crate) async fn serve(stack: Stack, listen: SocketAddr) -> std::io::Result<()> {
    let mut router = Router::new()
        .route("/db", get(db))
        .route("/queries", get(queries))
        .route("/updates", get(updates))
        .route("/fortunes", get(fortunes));
    // Elsewhere a 404: the bench never loads it there, and a mistake shows as failures.
    if stack.kind().pipelines() {
        router = router.route("/queries-pipelined", get(queries_pipelined));
    }
    let router = router.with_state(stack);
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, router).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fortunes_are_escaped() {
        let html = render_fortunes(&[Fortune {
            id: 11,
            message: "<script>alert(\"x\");</script> & 'y'".to_owned(),
        }]);
        assert!(html.contains(
            "<td>11</td><td>&lt;script&gt;alert(&quot;x&quot;);&lt;/script&gt; &amp; &#x27;y&#x27;</td>"
        ));
    }

    #[test]
    fn q_is_read_as_techempower_reads_it() {
        let count = |q: Option<&str>| {
            Queries {
                q: q.map(str::to_owned),
            }
            .count()
        };
        assert_eq!(count(None), 1);
        assert_eq!(count(Some("abc")), 1);
        assert_eq!(count(Some("0")), 1);
        assert_eq!(count(Some("20")), 20);
        assert_eq!(count(Some("501")), 500);
    }
}
