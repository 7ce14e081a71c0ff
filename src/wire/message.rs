//! Every message object of docs/protocol.md section 2, as serde types.
//!
//! Messages travel as JSON objects with a `"type"` field; unknown fields are ignored.
//! [`ClientMessage`] is what visitors and agents send, [`ServerMessage`] what the server
//! sends. Both sides serialize these very types.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::data::Data;

/// Page information a visitor reports with `presence`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<String>,
}

/// Messages from visitors and agents to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Visitor: become `visitor` of `group`, in tab `tab`.
    Connect {
        group: String,
        visitor: String,
        tab: String,
    },
    /// Visitor: be assigned a 6-digit unique id.
    ConnectUnique { group: String, tab: String },
    /// Visitor: push a unique connection's deadline back.
    Extend,
    /// Visitor: report page info and custom data.
    Presence {
        seq: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        data: Option<Data>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        page: Option<Page>,
    },
    /// Visitor: this tab takes focus.
    Focus,
    /// Visitor: a signal or invoke was received; the server may forget it.
    SignalAck { id: String, agent: String },
    /// Agent: identify as `agent` of `group`.
    AgentConnect { group: String, agent: String },
    /// Agent: report `visitor`'s presence now and on every change.
    Lookup { visitor: String },
    /// Agent: stop watching `visitor`.
    Unwatch { visitor: String },
    /// Agent: send `data` to `visitor`.
    Signal {
        visitor: String,
        id: String,
        #[serde(default, skip_serializing_if = "Value::is_null")]
        data: Value,
    },
    /// Agent: ask `visitor` to run `action`.
    Invoke {
        visitor: String,
        id: String,
        action: String,
        #[serde(default, skip_serializing_if = "Value::is_null")]
        args: Value,
    },
    /// Either side: a request could not be served.
    Error { code: String, message: String },
    /// Either side: about to leave.
    Draining {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
}

/// Outcome of a `signal` or `invoke`, as told to the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Sent to the visitor's focused tab.
    Delivered,
    /// Visitor offline: kept and delivered on its next `connect`.
    Queued,
    /// Not accepted; `reason` says why.
    Rejected,
}

/// Messages from the server to visitors and agents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Connected {
        visitor: String,
        server: String,
        focus: bool,
    },
    Unique {
        visitor: String,
        expires_in_ms: u64,
    },
    Extended {
        expires_in_ms: u64,
    },
    Expired {},
    PresenceAck {
        seq: u64,
    },
    /// The named tab (the receiver) lost focus.
    Blur {
        tab: String,
    },
    /// The named tab (the receiver) has focus now.
    Focused {
        tab: String,
    },
    Signal {
        id: String,
        agent: String,
        #[serde(default, skip_serializing_if = "Value::is_null")]
        data: Value,
    },
    Invoke {
        id: String,
        agent: String,
        action: String,
        #[serde(default, skip_serializing_if = "Value::is_null")]
        args: Value,
    },
    AgentConnected {
        agent: String,
        server: String,
    },
    /// To agents: a watched visitor's presence.
    Presence {
        visitor: String,
        online: bool,
        focus_tab: Option<String>,
        page: Option<Page>,
        data: Data,
        at_ms: u64,
    },
    SignalStatus {
        id: String,
        status: Status,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    InvokeStatus {
        id: String,
        status: Status,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    Error {
        code: String,
        message: String,
    },
    Draining {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
}

impl ServerMessage {
    /// An `error` reply.
    pub fn error(code: &str, message: impl Into<String>) -> Self {
        ServerMessage::Error {
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

/// Why a client message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not a JSON object, or its `type` is missing or unknown.
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    /// A known type with missing or mistyped fields.
    #[error("bad {kind} message: {detail}")]
    BadFields { kind: String, detail: String },
}

impl DecodeError {
    /// The `error` code docs/protocol.md uses for this failure.
    pub fn code(&self) -> &'static str {
        match self {
            DecodeError::UnknownType(_) => "unknown_type",
            DecodeError::BadFields { .. } => "bad_request",
        }
    }
}

/// Every client message `type` ([`ClientMessage::kind`]).
const CLIENT_TYPES: &[&str] = &[
    "connect",
    "connect_unique",
    "extend",
    "presence",
    "focus",
    "signal_ack",
    "agent_connect",
    "lookup",
    "unwatch",
    "signal",
    "invoke",
    "error",
    "draining",
];

/// Every server message `type` ([`ServerMessage::kind`]).
const SERVER_TYPES: &[&str] = &[
    "connected",
    "unique",
    "extended",
    "expired",
    "presence_ack",
    "blur",
    "focused",
    "signal",
    "invoke",
    "agent_connected",
    "presence",
    "signal_status",
    "invoke_status",
    "error",
    "draining",
];

impl ClientMessage {
    /// Every `type` a client message can have (the exporter counts each from zero).
    pub const TYPES: &'static [&'static str] = CLIENT_TYPES;

    /// The message's `type`, as on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientMessage::Connect { .. } => "connect",
            ClientMessage::ConnectUnique { .. } => "connect_unique",
            ClientMessage::Extend => "extend",
            ClientMessage::Presence { .. } => "presence",
            ClientMessage::Focus => "focus",
            ClientMessage::SignalAck { .. } => "signal_ack",
            ClientMessage::AgentConnect { .. } => "agent_connect",
            ClientMessage::Lookup { .. } => "lookup",
            ClientMessage::Unwatch { .. } => "unwatch",
            ClientMessage::Signal { .. } => "signal",
            ClientMessage::Invoke { .. } => "invoke",
            ClientMessage::Error { .. } => "error",
            ClientMessage::Draining { .. } => "draining",
        }
    }

    /// Decodes one message, telling an unknown `type` apart from bad fields of a known one.
    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        serde_json::from_str(text).map_err(|err| classify_failure(text, err))
    }

    /// Encodes this message as a JSON object.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("client messages always serialize")
    }
}

impl ServerMessage {
    /// Every `type` a server message can have (the exporter counts each from zero).
    pub const TYPES: &'static [&'static str] = SERVER_TYPES;

    /// The message's `type`, as on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            ServerMessage::Connected { .. } => "connected",
            ServerMessage::Unique { .. } => "unique",
            ServerMessage::Extended { .. } => "extended",
            ServerMessage::Expired {} => "expired",
            ServerMessage::PresenceAck { .. } => "presence_ack",
            ServerMessage::Blur { .. } => "blur",
            ServerMessage::Focused { .. } => "focused",
            ServerMessage::Signal { .. } => "signal",
            ServerMessage::Invoke { .. } => "invoke",
            ServerMessage::AgentConnected { .. } => "agent_connected",
            ServerMessage::Presence { .. } => "presence",
            ServerMessage::SignalStatus { .. } => "signal_status",
            ServerMessage::InvokeStatus { .. } => "invoke_status",
            ServerMessage::Error { .. } => "error",
            ServerMessage::Draining { .. } => "draining",
        }
    }

    /// Decodes one server message.
    pub fn decode(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Encodes this message as a JSON object.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("server messages always serialize")
    }
}

/// Only on the failure path: looks at the `type` field to name the failure.
fn classify_failure(text: &str, err: serde_json::Error) -> DecodeError {
    #[derive(Deserialize)]
    struct TypeOnly {
        #[serde(rename = "type")]
        kind: Option<Value>,
    }
    let kind = match serde_json::from_str::<TypeOnly>(text) {
        Ok(TypeOnly {
            kind: Some(Value::String(kind)),
        }) => kind,
        Ok(TypeOnly { kind: Some(other) }) => return DecodeError::UnknownType(other.to_string()),
        Ok(TypeOnly { kind: None }) | Err(_) => return DecodeError::UnknownType(String::new()),
    };
    if CLIENT_TYPES.contains(&kind.as_str()) {
        DecodeError::BadFields {
            kind,
            detail: err.to_string(),
        }
    } else {
        DecodeError::UnknownType(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The variants serde knows, from its error for an unknown one ("expected one of `a`, `b`").
    fn serde_types(error: String) -> Vec<String> {
        let (_, expected) = error
            .split_once("expected one of ")
            .expect("serde names the variants");
        expected
            .split(", ")
            .map(|name| name.split('`').nth(1).unwrap_or_default().to_owned())
            .collect()
    }

    #[test]
    fn the_type_lists_name_every_message() {
        let unknown = r#"{"type":"teleport"}"#;
        let client = serde_types(
            serde_json::from_str::<ClientMessage>(unknown)
                .unwrap_err()
                .to_string(),
        );
        assert_eq!(client, ClientMessage::TYPES);
        let server = serde_types(ServerMessage::decode(unknown).unwrap_err().to_string());
        assert_eq!(server, ServerMessage::TYPES);
    }

    #[test]
    fn client_messages_use_protocol_names() {
        let msg = ClientMessage::Connect {
            group: "1".into(),
            visitor: "v".into(),
            tab: "t".into(),
        };
        assert_eq!(
            serde_json::to_value(&msg).unwrap(),
            json!({"type": "connect", "group": "1", "visitor": "v", "tab": "t"})
        );
        assert_eq!(
            ClientMessage::decode(r#"{"type":"extend","extra":1}"#),
            Ok(ClientMessage::Extend)
        );
        let ack = ClientMessage::decode(r#"{"type":"signal_ack","id":"1","agent":"a"}"#).unwrap();
        assert_eq!(
            ack,
            ClientMessage::SignalAck {
                id: "1".into(),
                agent: "a".into()
            }
        );
    }

    #[test]
    fn unknown_type_and_bad_fields_are_told_apart() {
        assert_eq!(
            ClientMessage::decode(r#"{"type":"teleport"}"#),
            Err(DecodeError::UnknownType("teleport".into()))
        );
        assert_eq!(
            ClientMessage::decode(r#"{"no":"type"}"#)
                .unwrap_err()
                .code(),
            "unknown_type"
        );
        let bad = ClientMessage::decode(r#"{"type":"presence","seq":"x"}"#).unwrap_err();
        assert_eq!(bad.code(), "bad_request");
    }

    #[test]
    fn server_messages_round_trip() {
        let msgs = [
            ServerMessage::Expired {},
            ServerMessage::PresenceAck { seq: 7 },
            ServerMessage::SignalStatus {
                id: "s".into(),
                status: Status::Rejected,
                reason: Some("queue_full".into()),
            },
            ServerMessage::Presence {
                visitor: "v".into(),
                online: true,
                focus_tab: Some("t".into()),
                page: Some(Page {
                    url: Some("u".into()),
                    ..Page::default()
                }),
                data: Data::new(),
                at_ms: 5,
            },
        ];
        for msg in msgs {
            assert_eq!(ServerMessage::decode(&msg.encode()).unwrap(), msg);
            assert!(
                msg.encode()
                    .contains(&format!("\"type\":\"{}\"", msg.kind())),
                "kind() is the wire type"
            );
        }
        assert_eq!(ServerMessage::Expired {}.encode(), r#"{"type":"expired"}"#);
    }
}
