// Interoperability check: the standard SockJS client (npm `sockjs-client`) talks to the
// reference server. It reads /info, opens the SockJS WebSocket transport, and exchanges a
// visitor's connect, presence and acknowledgements, then a heartbeat-free close.
// Usage: node sockjs-client.js http://127.0.0.1:PORT/presence
const SockJS = require('sockjs-client');

const url = process.argv[2];
const fail = (why) => { console.error(`sockjs-client check FAILED: ${why}`); process.exit(1); };
const timer = setTimeout(() => fail('no answer within 10 s'), 10000);

const sock = new SockJS(url, null, { transports: ['websocket'] });
const expected = ['connected', 'presence_ack'];
sock.onopen = () => {
  if (sock.transport !== 'websocket') fail(`transport ${sock.transport}, expected websocket`);
  sock.send(JSON.stringify({ type: 'connect', group: '1', visitor: 'sockjs-client', tab: 't1' }));
  sock.send(JSON.stringify({ type: 'presence', seq: 7, page: { url: 'https://example/' }, data: { a: 1 } }));
};
sock.onmessage = (event) => {
  const message = JSON.parse(event.data);
  const want = expected.shift();
  if (message.type !== want) fail(`got ${event.data}, expected a ${want}`);
  if (want === 'presence_ack' && message.seq !== 7) fail(`presence_ack for seq ${message.seq}, expected 7`);
  if (expected.length === 0) sock.close();
};
sock.onclose = (event) => {
  clearTimeout(timer);
  if (expected.length > 0) fail(`closed early: ${event.code} ${event.reason}`);
  console.log('sockjs-client check: ok (info, websocket transport, connect, presence, close)');
  process.exit(0);
};
