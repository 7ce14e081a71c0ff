#!/usr/bin/env node
// One Presence instance on sockjs-node (npm `sockjs`, pinned in package.json), started by
// tests/interop/hub.py. The library serves /presence its own way (SockJS framing, WebSocket
// and raw WebSocket, xhr, xhr_streaming, eventsource, heartbeats, escaping, session
// timeouts), with its default settings except `response_limit` when --response-limit is
// given. This file only relays: every message of every session goes to the hub, which holds
// the Presence state, and what the hub sends goes out with the library's own
// `conn.write` / `conn.close`. The hub protocol is described in hub.py.
//
// Usage: node front.js --hub 127.0.0.1:PORT --server NAME [--port 0] [--response-limit BYTES]
'use strict';

const http = require('http');
const net = require('net');
const sockjs = require('sockjs');

function option(name, fallback) {
  const at = process.argv.indexOf(name);
  if (at === -1) {
    if (fallback === undefined) throw new Error(`${name} is required`);
    return fallback;
  }
  return process.argv[at + 1];
}

const [hubHost, hubPort] = option('--hub').split(':');
const serverName = option('--server');
const port = Number(option('--port', '0'));
const responseLimit = option('--response-limit', '');

// The hub's control connection: line-delimited JSON. The front does not outlive it.
const hub = net.connect(Number(hubPort), hubHost);
hub.setNoDelay(true);
hub.on('error', (err) => { console.error(`front ${serverName}: hub connection: ${err.message}`); process.exit(1); });
hub.on('close', () => process.exit(1));
const tell = (message) => hub.write(JSON.stringify(message) + '\n');

const sessions = new Map(); // sid -> SockJSConnection
let nextSid = 0;

const options = {
  prefix: '/presence',
  // The library logs every request at 'debug' and 'info'; keep its errors only.
  log: (severity, line) => { if (severity === 'error') console.error(`front ${serverName}: ${line}`); },
};
if (responseLimit) options.response_limit = Number(responseLimit);
const service = sockjs.createServer(options);

service.on('connection', (conn) => {
  const sid = ++nextSid;
  sessions.set(sid, conn);
  // conn.protocol: websocket, websocket-raw, xhr-streaming, xhr-polling, eventsource
  tell({ op: 'open', sid, transport: conn.protocol });
  conn.on('data', (text) => tell({ op: 'msg', sid, text: String(text) }));
  conn.on('close', () => {
    sessions.delete(sid);
    tell({ op: 'closed', sid });
  });
});

let buffered = '';
hub.on('data', (chunk) => {
  buffered += chunk.toString('utf8');
  let end;
  while ((end = buffered.indexOf('\n')) !== -1) {
    const line = buffered.slice(0, end);
    buffered = buffered.slice(end + 1);
    const command = JSON.parse(line);
    const conn = sessions.get(command.sid);
    if (command.op === 'send' && conn) {
      for (const text of command.msgs) conn.write(text);
    } else if (command.op === 'close' && conn) {
      conn.close(command.code, command.reason);
    } else if (command.op === 'exit') {
      reportRequests();
      hub.end(() => process.exit(0));
    }
  }
});

// Receiving requests served, by transport path (xhr, xhr_streaming, eventsource, ...):
// more streaming requests than streaming sessions shows streams were rotated at the limit.
const requests = {};
let reported = '';
function reportRequests() {
  const now = JSON.stringify(requests);
  if (now !== reported) {
    reported = now;
    tell({ op: 'stats', requests });
  }
}
setInterval(reportRequests, 500).unref();

const server = http.createServer((req, res) => {
  // Requests the SockJS handlers did not take.
  if (req.url === '/healthz') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('ok');
  } else {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found');
  }
});
service.installHandlers(server);
server.prependListener('request', (req) => {
  const match = /^\/presence\/[^/]+\/[^/]+\/([a-z_]+)/.exec(req.url);
  if (match && match[1] !== 'xhr_send') requests[match[1]] = (requests[match[1]] || 0) + 1;
});
server.listen(port, '127.0.0.1', () => {
  tell({ op: 'hello', server: serverName, port: server.address().port });
});
