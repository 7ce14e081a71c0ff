//! Errors of the cluster's public API, and how the admin routes answer them.

use std::net::SocketAddr;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Why a cluster operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("invalid settings: {0}")]
    InvalidSettings(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("no instance named {0:?}")]
    UnknownInstance(String),
    #[error("no live instance left to {0}")]
    NoLiveInstance(&'static str),
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        let status = match self {
            ServerError::InvalidSettings(_) | ServerError::Bind { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            ServerError::UnknownInstance(_) => StatusCode::NOT_FOUND,
            ServerError::NoLiveInstance(_) => StatusCode::CONFLICT,
        };
        (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response()
    }
}
