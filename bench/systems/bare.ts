/**
 * The floor: a function that answers a fixed body of the same shape and size as
 * ours, with no configuration, no input parsing and no upstream call.
 */
const BODY = {
  iceServers: [
    {
      urls: [
        "stun:stun.example.com:3478",
        "turn:turn.example.com:3478?transport=udp",
        "turn:turn.example.com:3478?transport=tcp",
        "turn:turn.example.com:80?transport=tcp",
        "turns:turn.example.com:5349?transport=tcp",
        "turns:turn.example.com:443?transport=tcp",
      ],
      username: "u".repeat(96),
      credential: "c".repeat(96),
    },
  ],
  ttl: 86400,
  expiresAt: "2030-01-01T00:00:00.000Z",
  provider: "none",
};

export default (_request: Request): Response => Response.json(BODY, { headers: { "cache-control": "no-store" } });
