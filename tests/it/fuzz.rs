//! Fuzzing in `cargo test`: proptest properties over what the harness reads from others,
//! the SockJS frame decoder, the message decoders and the scenario loader. Whatever the
//! input (arbitrary text, or a valid frame, message or scenario with a few edits), they
//! answer `Ok` or an error and never panic: a panic would end a visitor's task, or the
//! whole `validate`, instead of reporting. What they encode, they decode unchanged; every
//! scenario error points into the file.
//!
//! Each property runs proptest's default 256 cases; `PROPTEST_CASES=200000` runs a long
//! campaign (BENCHMARKS.md, "Fuzzing"). Failures are minimized and printed; regressions
//! found that way are kept as plain unit tests beside the code they broke.

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;

use std::collections::VecDeque;

use presence_bench::scenario::{self, ScenarioError};
use presence_bench::wire::data::Data;
use presence_bench::wire::http_frames::{self, FrameReader, Framing};
use presence_bench::wire::sockjs::{self, ServerFrame};
use presence_bench::wire::{ClientMessage, Page, ServerMessage, Status};

/// One edit of a valid input, at a position given as a fraction of its length.
#[derive(Debug, Clone)]
enum Edit {
    Delete(Index),
    Insert(Index, char),
    Replace(Index, char),
    /// Cuts the input short, as a server that stops mid-frame does.
    Truncate(Index),
    /// Repeats a stretch, as a confused writer does.
    Repeat(Index, Index),
}

/// Characters that mean something to JSON, SockJS or YAML, and some that mean nothing.
fn interesting_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => prop::sample::select(vec![
            '"', '\\', '[', ']', '{', '}', ',', ':', '-', ' ', '\n', '\t', '#', '&', '*', '!', '|',
            '>', '\'', '%', '@', '?', '0', '9', '.', 'e', 'a', 'c', 'h', 'o', '\u{0}', 'é',
            '\u{feff}', '😀',
        ]),
        1 => any::<char>(),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<Index>().prop_map(Edit::Delete),
        (any::<Index>(), interesting_char()).prop_map(|(at, c)| Edit::Insert(at, c)),
        (any::<Index>(), interesting_char()).prop_map(|(at, c)| Edit::Replace(at, c)),
        any::<Index>().prop_map(Edit::Truncate),
        (any::<Index>(), any::<Index>()).prop_map(|(from, to)| Edit::Repeat(from, to)),
    ]
}

/// `base` with `edits` applied, on character boundaries.
fn mutate(base: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = base.chars().collect();
    for edit in edits {
        let len = chars.len();
        match edit {
            Edit::Delete(at) if len > 0 => {
                chars.remove(at.index(len));
            }
            Edit::Insert(at, c) => chars.insert(at.index(len + 1), *c),
            Edit::Replace(at, c) if len > 0 => chars[at.index(len)] = *c,
            Edit::Truncate(at) => chars.truncate(at.index(len + 1)),
            Edit::Repeat(from, to) if len > 0 => {
                let (a, b) = (from.index(len), to.index(len));
                let stretch: Vec<char> = chars[a.min(b)..=a.max(b)].to_vec();
                chars.splice(a.max(b) + 1..a.max(b) + 1, stretch);
            }
            _ => {}
        }
    }
    chars.into_iter().collect()
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    prop::collection::vec(edit(), 1..6)
}

mod protocol {
    use super::*;

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![3 => "[a-z0-9_-]{0,12}", 1 => any::<String>()]
    }

    /// JSON without floats: serde_json's default float parsing may differ in the last digit,
    /// which is no bug of ours.
    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            text().prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(text(), inner, 0..4)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    fn data() -> impl Strategy<Value = Data> {
        let value = prop_oneof![
            text().prop_map(Value::from),
            any::<i64>().prop_map(Value::from)
        ];
        prop::collection::btree_map(text(), value, 0..4).prop_map(|map| map.into_iter().collect())
    }

    fn page() -> impl Strategy<Value = Page> {
        let field = || prop::option::of(text());
        (field(), field(), field(), field()).prop_map(|(url, title, referrer, browser)| Page {
            url,
            title,
            referrer,
            browser,
        })
    }

    fn status() -> impl Strategy<Value = Status> {
        prop_oneof![
            Just(Status::Delivered),
            Just(Status::Queued),
            Just(Status::Rejected)
        ]
    }

    pub(super) fn server_message() -> impl Strategy<Value = ServerMessage> {
        let t = text;
        prop_oneof![
            (t(), t(), any::<bool>()).prop_map(|(visitor, server, focus)| {
                ServerMessage::Connected {
                    visitor,
                    server,
                    focus,
                }
            }),
            (t(), any::<u64>()).prop_map(|(visitor, expires_in_ms)| ServerMessage::Unique {
                visitor,
                expires_in_ms
            }),
            any::<u64>().prop_map(|expires_in_ms| ServerMessage::Extended { expires_in_ms }),
            Just(ServerMessage::Expired {}),
            any::<u64>().prop_map(|seq| ServerMessage::PresenceAck { seq }),
            t().prop_map(|tab| ServerMessage::Blur { tab }),
            t().prop_map(|tab| ServerMessage::Focused { tab }),
            (t(), t(), json()).prop_map(|(id, agent, data)| ServerMessage::Signal {
                id,
                agent,
                data
            }),
            (t(), t(), t(), json()).prop_map(|(id, agent, action, args)| ServerMessage::Invoke {
                id,
                agent,
                action,
                args
            }),
            (t(), t()).prop_map(|(agent, server)| ServerMessage::AgentConnected { agent, server }),
            (
                t(),
                any::<bool>(),
                prop::option::of(t()),
                prop::option::of(page()),
                data(),
                any::<u64>()
            )
                .prop_map(|(visitor, online, focus_tab, page, data, at_ms)| {
                    ServerMessage::Presence {
                        visitor,
                        online,
                        focus_tab,
                        page,
                        data,
                        at_ms,
                    }
                }),
            (t(), status(), prop::option::of(t())).prop_map(|(id, status, reason)| {
                ServerMessage::SignalStatus { id, status, reason }
            }),
            (t(), status(), prop::option::of(t())).prop_map(|(id, status, reason)| {
                ServerMessage::InvokeStatus { id, status, reason }
            }),
            (t(), t()).prop_map(|(code, message)| ServerMessage::Error { code, message }),
            prop::option::of(any::<u64>())
                .prop_map(|retry_after_ms| ServerMessage::Draining { retry_after_ms }),
        ]
    }

    pub(super) fn client_message() -> impl Strategy<Value = ClientMessage> {
        let t = text;
        prop_oneof![
            (t(), t(), t()).prop_map(|(group, visitor, tab)| ClientMessage::Connect {
                group,
                visitor,
                tab
            }),
            (t(), t()).prop_map(|(group, tab)| ClientMessage::ConnectUnique { group, tab }),
            Just(ClientMessage::Extend),
            (
                any::<u64>(),
                prop::option::of(data()),
                prop::option::of(page())
            )
                .prop_map(|(seq, data, page)| ClientMessage::Presence {
                    seq,
                    data,
                    page
                }),
            Just(ClientMessage::Focus),
            (t(), t()).prop_map(|(id, agent)| ClientMessage::SignalAck { id, agent }),
            (t(), t()).prop_map(|(group, agent)| ClientMessage::AgentConnect { group, agent }),
            t().prop_map(|visitor| ClientMessage::Lookup { visitor }),
            t().prop_map(|visitor| ClientMessage::Unwatch { visitor }),
            (t(), t(), json()).prop_map(|(visitor, id, data)| ClientMessage::Signal {
                visitor,
                id,
                data
            }),
            (t(), t(), t(), json()).prop_map(|(visitor, id, action, args)| ClientMessage::Invoke {
                visitor,
                id,
                action,
                args
            }),
            (t(), t()).prop_map(|(code, message)| ClientMessage::Error { code, message }),
            prop::option::of(any::<u64>())
                .prop_map(|retry_after_ms| ClientMessage::Draining { retry_after_ms }),
        ]
    }

    /// A server frame of any kind, as the reference server would send it.
    fn server_frame() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(sockjs::OPEN.to_owned()),
            Just(sockjs::HEARTBEAT.to_owned()),
            prop::collection::vec(server_message(), 0..4).prop_map(|messages| {
                sockjs::encode_messages(
                    &messages
                        .iter()
                        .map(ServerMessage::encode)
                        .collect::<Vec<_>>(),
                )
            }),
            Just(sockjs::encode_close(presence_bench::wire::close::GO_AWAY)),
        ]
    }

    proptest! {
        #[test]
        fn server_frames_of_any_text_decode_or_fail(text in any::<String>()) {
            let _ = sockjs::decode_server_frame(&text);
        }

        #[test]
        fn server_frames_with_a_known_type_decode_or_fail(
            kind in "[ohac]",
            rest in any::<String>(),
        ) {
            let _ = sockjs::decode_server_frame(&format!("{kind}{rest}"));
        }

        #[test]
        fn edited_server_frames_decode_or_fail(frame in server_frame(), edits in edits()) {
            let edited = mutate(&frame, &edits);
            if let Ok(ServerFrame::Messages(items)) = sockjs::decode_server_frame(&edited) {
                for item in items {
                    let _ = ServerMessage::decode(&item);
                }
            }
        }

        #[test]
        fn message_frames_round_trip(messages in prop::collection::vec(any::<String>(), 0..6)) {
            let frame = sockjs::encode_messages(&messages);
            prop_assert_eq!(
                sockjs::decode_server_frame(&frame),
                Ok(ServerFrame::Messages(messages))
            );
        }

        #[test]
        fn client_frames_round_trip_and_any_text_decodes_or_fails(
            messages in prop::collection::vec(any::<String>(), 1..6),
            text in any::<String>(),
        ) {
            let frame = sockjs::encode_client_frame(&messages);
            prop_assert_eq!(sockjs::decode_client_frame(&frame), Ok(messages));
            let _ = sockjs::decode_client_frame(&text);
        }

        #[test]
        fn server_messages_round_trip(message in server_message()) {
            prop_assert_eq!(ServerMessage::decode(&message.encode()).ok(), Some(message));
        }

        #[test]
        fn client_messages_round_trip(message in client_message()) {
            prop_assert_eq!(ClientMessage::decode(&message.encode()), Ok(message));
        }

        #[test]
        fn edited_messages_decode_or_fail(
            server in server_message(),
            client in client_message(),
            edits in edits(),
        ) {
            let _ = ServerMessage::decode(&mutate(&server.encode(), &edits));
            let _ = ClientMessage::decode(&mutate(&client.encode(), &edits));
        }

        #[test]
        fn messages_of_any_text_decode_or_fail(text in any::<String>()) {
            let _ = ServerMessage::decode(&text);
            let _ = ClientMessage::decode(&text);
        }
    }

    /// A response body of `frames` as `framing` sends it, cut at `cuts` (fractions of its
    /// length) into the pieces the client reads.
    fn pieces(frames: &[String], framing: Framing, cuts: &[Index]) -> Vec<Vec<u8>> {
        let body = match framing {
            Framing::Lines => {
                let prelude = "h".repeat(http_frames::PRELUDE_LEN);
                std::iter::once(prelude)
                    .chain(frames.iter().cloned())
                    .map(|frame| frame + "\n")
                    .collect::<String>()
            }
            Framing::EventSource => {
                "\r\n".to_owned()
                    + &frames
                        .iter()
                        .map(|frame| format!("data: {frame}\r\n\r\n"))
                        .collect::<String>()
            }
        };
        let mut at: Vec<usize> = cuts.iter().map(|cut| cut.index(body.len() + 1)).collect();
        at.sort_unstable();
        let mut from = 0;
        let mut out = Vec::new();
        for to in at.into_iter().chain([body.len()]) {
            out.push(body.as_bytes()[from..to].to_vec());
            from = to;
        }
        out
    }

    fn framing() -> impl Strategy<Value = Framing> {
        prop_oneof![Just(Framing::Lines), Just(Framing::EventSource)]
    }

    proptest! {
        #[test]
        fn http_bodies_cut_anywhere_give_back_their_frames(
            frames in prop::collection::vec(server_frame(), 1..6),
            framing in framing(),
            cuts in prop::collection::vec(any::<Index>(), 0..8),
        ) {
            let mut reader = FrameReader::new(framing, 1 << 20);
            let mut out = VecDeque::new();
            for piece in pieces(&frames, framing, &cuts) {
                prop_assert!(reader.feed(&piece, &mut out).is_ok());
            }
            prop_assert!(reader.finish().is_ok());
            prop_assert_eq!(Vec::from(out), frames);
        }

        #[test]
        fn http_bodies_of_any_bytes_read_or_fail(
            bytes in prop_oneof![
                prop::collection::vec(any::<u8>(), 0..512),
                // Event and frame lines of any length, so that lines over the limit come up.
                "((data: )?[aho]{0,80}\r?\n){0,6}".prop_map(String::into_bytes),
            ],
            framing in framing(),
            limit in 1usize..64,
            cut in any::<Index>(),
        ) {
            let mut reader = FrameReader::new(framing, limit);
            let mut out = VecDeque::new();
            let (a, b) = bytes.split_at(cut.index(bytes.len() + 1));
            let read = reader
                .feed(a, &mut out)
                .and_then(|()| reader.feed(b, &mut out))
                .and_then(|()| reader.finish());
            // Whatever comes out is within the limit (a frame never grows the harness).
            prop_assert!(out.iter().all(|frame| frame.len() <= limit), "{:?} {:?}", out, read);
        }
    }
}

mod scenarios {
    use super::*;

    /// Every scenario the project ships: valid starting points for edits.
    const SEEDS: &[(&str, &str)] = &[
        (
            "autoscale-drill.yaml",
            include_str!("../../scenarios/autoscale-drill.yaml"),
        ),
        ("ci-gate.yaml", include_str!("../../scenarios/ci-gate.yaml")),
        (
            "close-tab-polling.yaml",
            include_str!("../../scenarios/close-tab-polling.yaml"),
        ),
        (
            "delivery-checks.yaml",
            include_str!("../../scenarios/delivery-checks.yaml"),
        ),
        (
            "idle-19k.yaml",
            include_str!("../../scenarios/idle-19k.yaml"),
        ),
        (
            "open-model.yaml",
            include_str!("../../scenarios/open-model.yaml"),
        ),
        (
            "presence-5k.yaml",
            include_str!("../../scenarios/presence-5k.yaml"),
        ),
        (
            "presence-flood.yaml",
            include_str!("../../scenarios/presence-flood.yaml"),
        ),
        (
            "quickstart.yaml",
            include_str!("../../scenarios/quickstart.yaml"),
        ),
        (
            "signals-soak.yaml",
            include_str!("../../scenarios/signals-soak.yaml"),
        ),
        ("soak.yaml", include_str!("../../scenarios/soak.yaml")),
    ];

    /// Loads `text`; an error must name the file and a place inside the text.
    fn load_located(text: &str) -> Result<(), TestCaseError> {
        match scenario::from_str(text, "fuzz.yaml") {
            Ok(_) => Ok(()),
            Err(ScenarioError::Invalid(mistakes)) => {
                let lines = text.split('\n').count();
                prop_assert!(!mistakes.is_empty());
                for invalid in &mistakes {
                    prop_assert_eq!(invalid.file.as_str(), "fuzz.yaml");
                    prop_assert!(
                        invalid.line >= 1 && invalid.line <= lines,
                        "line {} of {lines}: {invalid}",
                        invalid.line
                    );
                    prop_assert!(invalid.column >= 1, "column {}: {invalid}", invalid.column);
                    prop_assert!(!invalid.message.is_empty());
                }
                Ok(())
            }
            Err(other) => Err(TestCaseError::fail(format!(
                "not a validation error: {other}"
            ))),
        }
    }

    #[test]
    fn every_seed_is_valid() {
        for (name, text) in SEEDS {
            if let Err(err) = scenario::from_str(text, name) {
                panic!("{err}");
            }
        }
    }

    proptest! {
        #[test]
        fn any_text_loads_or_fails_with_a_location(text in any::<String>()) {
            load_located(&text)?;
        }

        #[test]
        fn edited_scenarios_load_or_fail_with_a_location(
            seed in prop::sample::select(SEEDS),
            edits in prop::collection::vec(edit(), 1..8),
        ) {
            load_located(&mutate(seed.1, &edits))?;
        }
    }
}
