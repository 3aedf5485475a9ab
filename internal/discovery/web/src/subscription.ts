// A GraphQL subscription over a websocket, in the graphql-transport-ws
// protocol that discovery speaks: connection_init (carrying the token, as
// browsers cannot set headers on websockets), subscribe, then next / error
// / complete, answering pings. The socket is on the page's own origin, wss:
// when the page is https.

import { authPayload, websocketEndpoint } from "./graphql";

export interface SubscriptionHandlers<T> {
  /** Called once the server accepted the subscription. */
  onStart?: () => void;
  /** Called for every result carrying data. */
  onData: (data: T) => void;
  /** Called for every error in the stream (the stream may go on). */
  onError: (message: string) => void;
  /** Called once when the stream ended, with why (empty when asked to). */
  onEnd: (reason: string) => void;
}

export interface Subscription {
  /** stop ends the subscription and closes the socket. */
  stop(): void;
}

interface Message {
  type: string;
  id?: string;
  payload?: unknown;
}

interface ExecutionResult<T> {
  data?: T | null;
  errors?: { message: string }[];
}

/** subscribe starts a subscription; handlers get everything it sends. */
export function subscribe<T>(
  document: string,
  variables: Record<string, unknown>,
  handlers: SubscriptionHandlers<T>,
): Subscription {
  const id = "1";
  let ended = false;
  const end = (reason: string) => {
    if (ended) return;
    ended = true;
    handlers.onEnd(reason);
  };
  let socket: WebSocket;
  try {
    socket = new WebSocket(websocketEndpoint(), "graphql-transport-ws");
  } catch (err) {
    queueMicrotask(() => end(`cannot open a websocket: ${(err as Error).message}`));
    return { stop() {} };
  }
  const send = (m: Message) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(m));
  };
  socket.onopen = () => send({ type: "connection_init", payload: authPayload() });
  socket.onmessage = (ev) => {
    let m: Message;
    try {
      m = JSON.parse(String(ev.data)) as Message;
    } catch {
      handlers.onError("discovery sent a message that is not JSON");
      return;
    }
    switch (m.type) {
      case "connection_ack":
        send({ id, type: "subscribe", payload: { query: document, variables } });
        handlers.onStart?.();
        break;
      case "ping":
        send({ type: "pong" });
        break;
      case "next": {
        const r = (m.payload ?? {}) as ExecutionResult<T>;
        for (const e of r.errors ?? []) handlers.onError(e.message);
        if (r.data) handlers.onData(r.data);
        break;
      }
      case "error": {
        const errs = Array.isArray(m.payload) ? (m.payload as { message: string }[]) : [];
        end(errs.map((e) => e.message).join("; ") || "the subscription failed");
        socket.close(1000);
        break;
      }
      case "complete":
        end("the stream ended");
        socket.close(1000);
        break;
    }
  };
  socket.onerror = () => {
    // The close event that follows says more.
  };
  socket.onclose = (ev) => {
    if (ev.code === 1000 || ev.code === 1005) end(ended ? "" : "the connection closed");
    else end(`the connection closed (${ev.code}${ev.reason ? ": " + ev.reason : ""})`);
  };
  return {
    stop() {
      if (ended) return;
      ended = true;
      send({ id, type: "complete" });
      socket.close(1000);
      handlers.onEnd("");
    },
  };
}
