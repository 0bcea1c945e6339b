// keepFresh: an ICE source for one peer connection.
import { createIceSource } from "./ice-source.js";
import { checkPeerConnection } from "./options.js";

/**
 * Keeps `pc`'s TURN credentials fresh (see createIceSource) until `pc` closes, the page is
 * hidden for good (with `revokeOnClose`), `signal` aborts, or the returned function is called.
 * Returns that stop function. See docs/client.md.
 */
export function keepFresh(pc, options = {}) {
  checkPeerConnection(pc, "keepFresh");
  const source = createIceSource(options);
  source.attach(pc);
  return (stopOptions = {}) => source.stop(stopOptions);
}
