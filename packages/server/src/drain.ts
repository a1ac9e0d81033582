/**
 * Graceful close for a Node HTTP server: once closing, connections without an answer in flight
 * are ended at once, the others right after their answer (sent with `Connection: close`).
 * Node's own closeIdleConnections() misses keep-alive connections whose last answer was a stream
 * with a Content-Length, so the server would wait for the client to hang up.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export function drainOnClose(server: Server): () => void {
  const inFlight = new Map<Socket, number>();
  let closing = false;
  server.on('connection', (socket: Socket) => {
    inFlight.set(socket, 0);
    socket.once('close', () => inFlight.delete(socket));
  });
  server.on('request', (req, res) => {
    const socket = req.socket;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    if (closing) res.setHeader('Connection', 'close');
    res.once('close', () => {
      const left = (inFlight.get(socket) ?? 1) - 1;
      inFlight.set(socket, left);
      if (closing && left === 0) socket.end();
    });
  });
  return () => {
    closing = true;
    for (const [socket, count] of inFlight) if (count === 0) socket.end();
  };
}
