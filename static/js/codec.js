// The wire codec: the only browser module that knows MessagePack (vendored, global MessagePack).
const { encode, decode } = globalThis.MessagePack;

/** One frame to send: a MessagePack map as bytes. */
export function pack(frame) {
  return encode(frame);
}

/** One frame received: the map it encodes (throws on garbage). */
export function unpack(data) {
  return decode(new Uint8Array(data));
}
