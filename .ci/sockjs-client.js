// Interoperability check: the standard SockJS client (npm `sockjs-client`) talks to the
// reference server over one forced transport. It reads /info, opens the session on that
// transport, connects a visitor, reports presence and waits for its acknowledgement; an agent
// (on the WebSocket transport) then signals the visitor, which must receive and acknowledge
// the signal; then both close.
// Usage: node sockjs-client.js http://127.0.0.1:PORT/presence TRANSPORT
// TRANSPORT: websocket, xhr-streaming, xhr-polling or eventsource.
const SockJS = require('sockjs-client');

const [url, transport] = process.argv.slice(2);
const fail = (why) => { console.error(`sockjs-client check (${transport}) FAILED: ${why}`); process.exit(1); };
const timer = setTimeout(() => fail('not done within 10 s'), 10000);
// A `%` (and a `%` followed by hex) in the id and in signal data: sockjs-client decodes
// eventsource frames with decodeURI, so a server that does not escape them as sockjs-node
// does corrupts them (`%20` becomes a space) or makes the client throw (a bare `%`).
const visitorId = `sockjs-client-50%off-%20-${transport}`;
const signalData = { k: 'v 100% %41 %E2%82%AC é "q" \\ \r\n' };
let agent = null;
let closed = 0;
// The signal has reached the visitor, and the agent has been told so: then both close.
let signalled = false;
let delivered = false;
const finishIfDone = () => {
  if (!signalled || !delivered) return;
  agent.close();
  visitor.close();
};

const done = () => {
  closed += 1;
  if (closed < 2) return;
  clearTimeout(timer);
  console.log(`sockjs-client check: ok (${transport}: info, connect, presence, signal with % in id and data, close)`);
  process.exit(0);
};

const visitor = new SockJS(url, null, { transports: [transport] });
const expected = ['connected', 'presence_ack', 'signal'];
visitor.onopen = () => {
  if (visitor.transport !== transport) fail(`transport ${visitor.transport}, expected ${transport}`);
  visitor.send(JSON.stringify({ type: 'connect', group: '1', visitor: visitorId, tab: 't1' }));
  visitor.send(JSON.stringify({ type: 'presence', seq: 7, page: { url: 'https://example/' }, data: { a: 1 } }));
};
visitor.onmessage = (event) => {
  const message = JSON.parse(event.data);
  const want = expected.shift();
  if (message.type !== want) fail(`visitor got ${event.data}, expected a ${want}`);
  if (want === 'connected' && message.visitor !== visitorId) fail(`connected as ${message.visitor}, not ${visitorId}`);
  if (want === 'presence_ack') {
    if (message.seq !== 7) fail(`presence_ack for seq ${message.seq}, expected 7`);
    startAgent();
  }
  if (want === 'signal') {
    if (message.id !== 'sig-1' || message.data.k !== signalData.k) {
      fail(`signal ${event.data}, expected sig-1 ${JSON.stringify(signalData)}`);
    }
    visitor.send(JSON.stringify({ type: 'signal_ack', id: message.id, agent: message.agent }));
    signalled = true;
    finishIfDone();
  }
};
visitor.onclose = (event) => {
  if (expected.length > 0) fail(`visitor closed early: ${event.code} ${event.reason}`);
  done();
};

// The agent that signals the visitor, once its presence is acknowledged.
function startAgent() {
  agent = new SockJS(url, null, { transports: ['websocket'] });
  const agentExpects = ['agent_connected', 'signal_status'];
  agent.onopen = () => agent.send(JSON.stringify({ type: 'agent_connect', group: '1', agent: 'a1' }));
  agent.onmessage = (event) => {
    const message = JSON.parse(event.data);
    const want = agentExpects.shift();
    if (message.type !== want) fail(`agent got ${event.data}, expected a ${want}`);
    if (want === 'agent_connected') {
      agent.send(JSON.stringify({ type: 'signal', visitor: visitorId, id: 'sig-1', data: signalData }));
    } else {
      if (message.status !== 'delivered') fail(`signal_status ${event.data}, expected delivered`);
      delivered = true;
      finishIfDone();
    }
  };
  agent.onclose = (event) => {
    if (agentExpects.length > 0) fail(`agent closed early: ${event.code} ${event.reason}`);
    done();
  };
}
