//! Recovering a lost session (docs/protocol.md section 4): reconnect with backoff, re-locate,
//! re-connect and resend the last presence; or drop the tab when the server ended it on
//! purpose or broke the protocol.
//!
//! A loss the server announced (a drain) or that falls in a drill window is a planned move;
//! any other loss is a `session_lost` error, and the request it carried is `unanswered`.

use std::time::Instant;

use super::request::request;
use super::runner::{Interrupt, Visitor, WaitMode};
use crate::client::ClientError;
use crate::drill::{Cause, Loss};
use crate::measure::ErrorKind;
use crate::measure::{Counter, Tally};
use crate::session::kind_of;
use crate::wire::close;
use crate::wire::{ClientMessage, ServerMessage};

impl Visitor<'_> {
    /// Tab `i` lost its session: reconnect it, or drop it when the server ended it for good.
    /// Answers whether the loss was planned.
    ///
    /// A reconnect whose new session is lost again before its resent presence is answered
    /// (a server that resets every connection) goes round this loop, backing off further
    /// each time: each loss counts, and nothing nests deeper.
    pub async fn recover(&mut self, i: usize, err: ClientError) -> Result<bool, Interrupt> {
        let mut err = err;
        let mut failed_resends = 0;
        let mut recovery: Option<(Loss, bool)> = None;
        loop {
            self.leave_tab(i, Instant::now());
            let recorder = &self.ctx.recorder;
            recorder.count(Counter::SessionsLost, 1);
            recorder.tally(Tally::SessionLost, self.tabs[i].server);
            // After `draining`, whatever close follows is the announced move: some libraries
            // close a raw WebSocket with 1000 whatever code the app gave (aiohttp-sockjs).
            let announced = self.tabs[i].draining;
            if !(reconnectable(&err) || announced) || self.tabs[i].expired {
                let planned = self.tabs[i].expired;
                if !planned {
                    recorder.error(close_kind(&err));
                }
                self.drop_tab(i);
                return Ok(planned);
            }
            // Planned: announced by the server, or in a drill window (the first loss's window
            // covers the whole recovery).
            let cause = Cause::of(&err, self.tabs[i].draining);
            let (loss, first_planned) = recovery.get_or_insert_with(|| {
                let loss = self.ctx.drills.lost(cause);
                let planned = loss.in_drill() || cause == Cause::Drain;
                (loss, planned)
            });
            let planned = *first_planned || cause == Cause::Drain;
            if !planned {
                recorder.error(ErrorKind::SessionLost);
            }
            let tab_id = self.tabs[i].id.clone();
            let unique = self.tabs[i].unique;
            let (conn, server) = match self
                .open_session(&tab_id, unique, Some((loss, failed_resends)))
                .await
            {
                Ok(opened) => opened,
                Err(interrupt) => {
                    // Stopped before it was back: its dead session must not be waited on again.
                    self.drop_tab(i);
                    return Err(interrupt);
                }
            };
            // The server gives the reconnected tab focus and blurs the one that had it.
            self.focus_moves_to(&tab_id);
            self.focus_confirmed(&tab_id);
            let tab = &mut self.tabs[i];
            tab.conn = conn;
            tab.server = server;
            tab.last_heard = Instant::now();
            tab.heartbeats = false;
            tab.focused = true;
            tab.draining = false;
            tab.seq = 0;
            let Some(last) = tab.last_presence.clone() else {
                break;
            };
            let seq = self.next_seq(i);
            let presence = ClientMessage::Presence {
                seq,
                data: last.data,
                page: last.page,
            };
            let is_ack =
                |m: &ServerMessage| matches!(m, ServerMessage::PresenceAck { seq: s } if *s == seq);
            match request(
                self,
                i,
                &presence,
                Instant::now(),
                None,
                WaitMode::HandBack,
                is_ack,
            )
            .await
            {
                Ok(()) => break,
                Err(Interrupt::TabLost { .. }) => match self.handed_back.take() {
                    Some(next) => {
                        err = *next;
                        failed_resends += 1;
                    }
                    None => {
                        return Err(Interrupt::TabLost {
                            planned: *first_planned,
                        })
                    }
                },
                Err(other) => return Err(other),
            }
        }
        let Some((loss, planned)) = recovery else {
            return Ok(false);
        };
        loss.back();
        self.ctx.recorder.count(Counter::Reconnects, 1);
        Ok(planned)
    }
}

/// Whether a session that ended this way may be opened again: a drop, or a close that asks
/// the client to come back (going away, abnormal, server error, restart, try again later).
fn reconnectable(err: &ClientError) -> bool {
    match err {
        ClientError::Closed { code, .. } => close::reconnect_elsewhere(*code),
        ClientError::Lost(_) => true,
        _ => false,
    }
}

/// An error kind for a session the server ended in a way that is not a move.
fn close_kind(err: &ClientError) -> ErrorKind {
    match err {
        ClientError::Closed { code, .. } => {
            kind_of::close(*code).unwrap_or_else(|| kind_of::client(err))
        }
        other => kind_of::client(other),
    }
}
