/**
 * Twilio and Xirsys end to end through `npm start`: a real process, its real upstream client,
 * the fakes on loopback. Twilio serves first; refused, it fails over to Xirsys. The requests the
 * fakes record are the documented ones, and no secret reaches an answer or the process's output.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeTwilio, TWILIO_DOCUMENTED_URLS, type FakeTwilio } from "./fake-twilio.ts";
import { startFakeXirsys, XIRSYS_SAMPLE_URLS, type FakeXirsys } from "./fake-xirsys.ts";
import { startLocalServer, type Spawned } from "./helpers/process.ts";
import { secret } from "./helpers/secrets.ts";

const ACCOUNT_SID = `AC${"9a8b7c6d5e4f3a2b".repeat(2)}`;
const AUTH_TOKEN = secret("twilio-npm-start-auth-token-Hg5Jk7Lm9");
const IDENT = "npmstart";
const XIRSYS_SECRET = secret("xirsys-npm-start-secret-Vb2Nm4Qw6");
const CHANNEL = "StartChannel";

let twilio: FakeTwilio;
let xirsys: FakeXirsys;
let server: Spawned;
let origin: string;

beforeAll(async () => {
  twilio = await startFakeTwilio({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
  xirsys = await startFakeXirsys({ ident: IDENT, secret: XIRSYS_SECRET, channel: CHANNEL });
  const started = await startLocalServer({
    TWILIO_ACCOUNT_SID: ACCOUNT_SID,
    TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    TWILIO_API_BASE: twilio.apiBase,
    XIRSYS_IDENT: IDENT,
    XIRSYS_SECRET: XIRSYS_SECRET,
    XIRSYS_CHANNEL: CHANNEL,
    XIRSYS_API_BASE: xirsys.apiBase,
    TURN_PROVIDERS: "twilio,xirsys",
    TURN_URL_SET: "full",
  });
  server = started.server;
  origin = started.origin;
}, 60_000);
afterAll(async () => {
  await server?.stop();
  await twilio?.close();
  await xirsys?.close();
  expect(server.output()).not.toContain(AUTH_TOKEN);
  expect(server.output()).not.toContain(XIRSYS_SECRET);
});
beforeEach(() => {
  twilio.reset();
  xirsys.reset();
});

async function vend(ttl: number) {
  const response = await fetch(`${origin}/api/ice-servers?ttl=${ttl}`);
  const text = await response.text();
  for (const value of [AUTH_TOKEN, XIRSYS_SECRET]) expect(text).not.toContain(value);
  return { status: response.status, body: JSON.parse(text) };
}

describe("npm start with Twilio, then Xirsys", () => {
  it("vends Twilio's credentials, asked for as documented", async () => {
    const { status, body } = await vend(1800);
    expect(status).toBe(200);
    expect(body.provider).toBe("twilio");
    expect(body.ttl).toBe(1800);
    expect(body.iceServers.flatMap((server: { urls: string[] }) => server.urls)).toEqual(TWILIO_DOCUMENTED_URLS);
    expect(twilio.requests).toHaveLength(1);
    const [sent] = twilio.requests;
    expect(`${sent.method} ${sent.path}`).toBe(`POST /2010-04-01/Accounts/${ACCOUNT_SID}/Tokens.json`);
    expect(sent.headers.authorization).toBe(`Basic ${Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString("base64")}`);
    expect(sent.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(sent.body).toBe("Ttl=1800");
    expect(xirsys.requests).toHaveLength(0);
  });

  it("fails over to Xirsys when Twilio refuses the key, asking Xirsys for its 6 hours at most", async () => {
    twilio.setFault({
      kind: "status",
      status: 401,
      body: '{"code":20003,"message":"Authenticate","more_info":"https://www.twilio.com/docs/errors/20003","status":401}',
    });
    const { status, body } = await vend(86_400);
    expect(status).toBe(200);
    expect(body.provider).toBe("xirsys");
    expect(body.ttl).toBe(21_600);
    expect(body.iceServers).toEqual([{ urls: XIRSYS_SAMPLE_URLS, username: expect.any(String), credential: expect.any(String) }]);
    expect(twilio.requests[0].body).toBe("Ttl=86400");
    expect(xirsys.requests).toHaveLength(1);
    const [sent] = xirsys.requests;
    expect(`${sent.method} ${sent.path}?${sent.query}`).toBe(`PUT /_turn/${CHANNEL}?expire=21600`);
    expect(sent.headers.authorization).toBe(`Basic ${Buffer.from(`${IDENT}:${XIRSYS_SECRET}`).toString("base64")}`);
    expect(JSON.parse(sent.body)).toEqual({ format: "urls" });
    expect(server.output()).toContain("OPERATOR: Twilio refused our credentials");
  });
});
